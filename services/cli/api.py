"""`orders api [--host H] [--port P]`: serve the HTTP API (schema at /openapi.json, docs at
/docs) with uvicorn.

With DATABASE_URL, the orders, the Idempotency-Keys and the provider's webhooks live in
PostgreSQL, so any number of API processes may serve side by side and a retry (or a webhook's
copy) may reach any of them; it then needs ORDERS_API_KEYS and ORDERS_PSP_WEBHOOK_SECRET,
unless the database is the dev stack's, whose keys it takes (services/cli/credentials.py).
Without it, all live in this process's memory, with keys of its own that it prints: enough
for a first look, and gone when it stops.

Its log lines, uvicorn's included, are written as `infrastructure/logs.py` says, each with the
id of the request it belongs to; the API logs one access line per request itself
(`services/api/request_ids.py`), so uvicorn's own is off.
"""

import sys
from contextlib import ExitStack
from datetime import timedelta
from typing import Annotated

import psycopg
import typer
import uvicorn
from eventsourcing.persistence import PersistenceError

from infrastructure import logs
from infrastructure.idempotency_store import InMemoryIdempotencyStore, PostgresIdempotencyStore
from infrastructure.settings import Settings
from infrastructure.webhook_store import InMemoryWebhookStore, PostgresWebhookStore
from services.api import ApiConfig, create_app
from services.bootstrap import build
from services.cli import credentials
from services.cli.usage import examples
from services.ops.dashboard import PostgresTables


def register(app: typer.Typer, panel: str) -> None:
    app.command(
        "api",
        rich_help_panel=panel,
        help="Serve the HTTP API (its docs at /docs).\n\n"
        "Served by uvicorn, with its OpenAPI document at /openapi.json. With DATABASE_URL the"
        " orders, the Idempotency-Keys and the provider's webhooks live in PostgreSQL, so any number"
        " of API processes may serve side by side; it then needs ORDERS_API_KEYS,"
        " ORDERS_PSP_WEBHOOK_SECRET and ORDERS_CIPHER_KEY and refuses to start without them (exit"
        " code 2), unless the database is the dev stack's, whose keys it takes. Without"
        " DATABASE_URL everything stays in this process's memory, with keys of its own that it"
        " prints unless ORDERS_API_KEYS is set.",
        epilog=examples(
            ("orders api", "in memory, on 127.0.0.1:8000"),
            ("source .devstack/env && orders api", "on the dev stack, with its keys"),
            ("orders api --host 0.0.0.0 --port 9000", "reachable from other machines, on port 9000"),
        ),
    )(_api)


def _api(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[
        int | None,
        typer.Option(min=1, max=65_535, help="port to listen on", show_default="$ORDERS_API_PORT or 8000"),
    ] = None,
) -> int:
    logs.configure("api")
    settings = _keyed(Settings.from_env())
    with ExitStack() as cleanup:
        try:
            system = build(settings)
            cleanup.callback(system.close)
            store = (
                PostgresIdempotencyStore(settings) if settings.database_url else InMemoryIdempotencyStore()
            )
            cleanup.callback(store.close)
            webhooks = PostgresWebhookStore(settings) if settings.database_url else InMemoryWebhookStore()
            cleanup.callback(webhooks.close)
            tables = PostgresTables(settings) if settings.database_url else None  # the dashboard's
            if tables is not None:
                cleanup.callback(tables.close)
        except (psycopg.Error, PersistenceError) as error:
            print(f"orders api: error: {' '.join(str(error).split())}", file=sys.stderr)
            return 1
        uvicorn.run(
            create_app(system, store, webhooks, config(settings), tables),
            host=host,
            port=port or settings.api_port,
            log_config=None,
            access_log=False,
        )
    return 0


def _keyed(settings: Settings) -> Settings:
    """The settings to serve with: on a database, with its keys (or the dev stack's); in
    memory, with keys of this process's own where none are given, printed for its clients."""
    if settings.database_url:
        return credentials.required(credentials.with_stack_keys(settings))
    own = credentials.with_own_keys(settings)
    print("orders api: DATABASE_URL is not set; everything stays in this process", flush=True)
    if not settings.api_keys:
        pairs = ", ".join(f"{tenant}:{key}" for tenant, key in own.api_keys)
        print(f"orders api: ORDERS_API_KEYS is not set; this process's keys: {pairs}", flush=True)
    return own


def config(settings: Settings) -> ApiConfig:
    return ApiConfig(
        api_keys={key: tenant for tenant, key in settings.api_keys},
        psp_webhook_secret=settings.psp_webhook_secret,
        lease=timedelta(seconds=settings.idempotency_lease_s),
        ttl=timedelta(seconds=settings.idempotency_ttl_s),
        write_rate_limit=settings.api_write_rate_limit,
        # The other processes' metrics: `orders run` names the API itself `api`.
        metrics_urls=tuple((name, url) for name, url in settings.metrics_urls if name != "api"),
    )
