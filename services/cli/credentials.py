"""The API keys and the webhook secret that `orders api` and `orders run` serve with.

None is built in: a deployment that forgot ORDERS_API_KEYS or ORDERS_PSP_WEBHOOK_SECRET must
not start open, nor with keys anyone could read in the docs, so against a database of its
own it does not start at all. On the dev stack (DATABASE_URL unset, or the one its env file
names) the stack's own random keys stand in for what the environment does not give; in
memory, and for the demo's and the chaos run's own systems, keys made for the run do.
"""

from collections.abc import Mapping

from infrastructure.devstack import DevStack
from infrastructure.devstack.keys import generated
from infrastructure.settings import Settings, SettingsError

VARIABLES = ("ORDERS_API_KEYS", "ORDERS_PSP_WEBHOOK_SECRET", "ORDERS_CIPHER_KEY")
HOW = (
    "ORDERS_API_KEYS is comma-separated tenant:key pairs; make each key and the secret with"
    " python -c 'import secrets; print(secrets.token_urlsafe(32))', and the cipher key with"
    " python -c 'import os, base64; print(base64.b64encode(os.urandom(32)).decode())'"
)


def with_stack_keys(settings: Settings) -> Settings:
    """`settings`, with the dev stack's keys where they have none, if their database is the stack's."""
    stack = DevStack(settings.devstack_dir).exported()
    if settings.database_url is None or stack.get("DATABASE_URL") != settings.database_url:
        return settings
    return _filled(settings, stack)


def with_own_keys(settings: Settings) -> Settings:
    """`settings`, with keys made now where they have none: for a system whose only clients
    are started with it (in memory, the demo, the chaos run)."""
    return _filled(settings, generated())


def required(settings: Settings) -> Settings:
    """`settings`, if they name the API's keys and the webhook secret; else SettingsError."""
    missing = [name for name, value in variables(settings).items() if not value]
    if missing:
        raise SettingsError(f"{' and '.join(missing)} must be set with DATABASE_URL ({HOW})")
    return settings


def variables(settings: Settings) -> dict[str, str]:
    """The settings' keys as the environment variables that give them to a child process."""
    pairs = ",".join(f"{tenant}:{key}" for tenant, key in settings.api_keys)
    return dict(zip(VARIABLES, (pairs, settings.psp_webhook_secret, settings.cipher_key or ""), strict=True))


def _filled(settings: Settings, environ: Mapping[str, str]) -> Settings:
    """`settings`, with the keys `environ` gives where they have none."""
    given = Settings.from_env({name: environ[name] for name in VARIABLES if name in environ})
    return settings.replace(
        api_keys=settings.api_keys or given.api_keys,
        psp_webhook_secret=settings.psp_webhook_secret or given.psp_webhook_secret,
        cipher_key=settings.cipher_key or given.cipher_key,
    )
