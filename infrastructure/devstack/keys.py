"""The API keys, the webhook secret and the store's cipher key of a dev stack: random, made the
first time the stack starts and kept in its directory, so that they survive `orders dev down`
and `up` (a client or a shell that has them keeps working) and end with `down --purge`.

No key is built into the code or printed in the docs: one known to all would open every
deployment that forgot its own. `orders dev up` puts them in the env file, as the variables
`orders api` reads (ORDERS_API_KEYS, ORDERS_PSP_WEBHOOK_SECRET, ORDERS_CIPHER_KEY) and as one variable per
tenant for a shell (`curl -H "Authorization: Bearer $ORDERS_DEV_KEY_ACME"`).
"""

import base64
import json
import os
import secrets
from pathlib import Path

TENANTS = ("acme", "globex")
KEYS_FILE = "keys.json"
_KEY_BYTES = 32


def generated() -> dict[str, str]:
    """Fresh keys, as the environment variables that carry them."""
    keys = {tenant: secrets.token_urlsafe(_KEY_BYTES) for tenant in TENANTS}
    return {
        "ORDERS_API_KEYS": ",".join(f"{tenant}:{key}" for tenant, key in keys.items()),
        "ORDERS_PSP_WEBHOOK_SECRET": secrets.token_urlsafe(_KEY_BYTES),
        "ORDERS_CIPHER_KEY": base64.b64encode(secrets.token_bytes(_KEY_BYTES)).decode(),
        **{f"ORDERS_DEV_KEY_{tenant.upper()}": key for tenant, key in keys.items()},
    }


def keys_of(root: Path) -> dict[str, str]:
    """The keys of the stack in `root`, made and stored the first time. The caller holds the
    stack's lock, so two callers never make two sets."""
    path = root / KEYS_FILE
    try:
        stored: dict[str, str] = json.loads(path.read_text())
    except FileNotFoundError:
        stored = {}
    keys = generated() | stored  # a stack made before a key existed gets that key now
    if keys != stored:
        write_privately(path, json.dumps(keys, indent=2) + "\n")
    return keys


def write_privately(path: Path, text: str) -> None:
    """Write `text` readable by this account only, and atomically: a reader never sees half
    of it, nor a moment in which others may read it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.unlink(missing_ok=True)
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(text)
    os.replace(partial, path)
