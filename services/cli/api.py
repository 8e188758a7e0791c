"""`orders api [--host H] [--port P]`: serve the HTTP API (schema at /openapi.json, docs at
/docs) with uvicorn.

With DATABASE_URL, the orders, the Idempotency-Keys and the provider's webhooks live in
PostgreSQL, so any number of API processes may serve side by side and a retry (or a webhook's
copy) may reach any of them. Without it, all live in this process's memory: enough for a first
look, and gone when it stops.
"""

import argparse
import sys
from contextlib import ExitStack
from datetime import timedelta
from typing import Any

import psycopg
import uvicorn
from eventsourcing.persistence import PersistenceError

from infrastructure.idempotency_store import InMemoryIdempotencyStore, PostgresIdempotencyStore
from infrastructure.settings import DEV_API_KEYS, DEV_PSP_WEBHOOK_SECRET, Settings, SettingsError
from infrastructure.webhook_store import InMemoryWebhookStore, PostgresWebhookStore
from services.api import ApiConfig, create_app
from services.bootstrap import build


def register(subparsers: "argparse._SubParsersAction[Any]") -> None:
    api = subparsers.add_parser("api", help="serve the HTTP API")
    api.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    api.add_argument("--port", type=_port, help="port to listen on (default: $ORDERS_API_PORT or 8000)")
    api.set_defaults(func=_api)


def _api(args: argparse.Namespace) -> int:
    with ExitStack() as cleanup:
        try:
            settings = Settings.from_env()
            system = build(settings)
            cleanup.callback(system.close)
            store = (
                PostgresIdempotencyStore(settings) if settings.database_url else InMemoryIdempotencyStore()
            )
            cleanup.callback(store.close)
            webhooks = PostgresWebhookStore(settings) if settings.database_url else InMemoryWebhookStore()
            cleanup.callback(webhooks.close)
        except (SettingsError, psycopg.Error, PersistenceError) as error:
            print(f"orders api: error: {' '.join(str(error).split())}", file=sys.stderr)
            return 1
        if settings.api_keys == DEV_API_KEYS:
            print("orders api: serving the development API keys; set ORDERS_API_KEYS", flush=True)
        if settings.psp_webhook_secret == DEV_PSP_WEBHOOK_SECRET:
            print(
                "orders api: checking webhooks with the development secret; set ORDERS_PSP_WEBHOOK_SECRET",
                flush=True,
            )
        if not settings.database_url:
            print("orders api: DATABASE_URL is not set; everything stays in this process", flush=True)
        uvicorn.run(
            create_app(system, store, webhooks, config(settings)),
            host=args.host,
            port=args.port or settings.api_port,
        )
    return 0


def config(settings: Settings) -> ApiConfig:
    return ApiConfig(
        api_keys={key: tenant for tenant, key in settings.api_keys},
        psp_webhook_secret=settings.psp_webhook_secret,
        lease=timedelta(seconds=settings.idempotency_lease_s),
        ttl=timedelta(seconds=settings.idempotency_ttl_s),
    )


def _port(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65_536:
        raise argparse.ArgumentTypeError(f"must be a port number (1-65535), got {text!r}")
    return int(text)
