"""`orders psp-sim` and `orders carrier-sim`: the system's two outside parties, a payment
provider and a carrier, each a process of its own with an HTTP API and its records in
PostgreSQL (schemas "psp" and "carrier"), so that the system reaches them only over the
network and every failure of that network can be reproduced.

Both need DATABASE_URL (`orders dev up`). The provider sends its webhooks to
ORDERS_PSP_WEBHOOK_URL when that is set, signed with ORDERS_PSP_WEBHOOK_SECRET (the dev
stack's when DATABASE_URL is its). Ctrl-C or SIGTERM stops them.
"""

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

import psycopg
import typer
from fastapi import FastAPI

from infrastructure import logs
from infrastructure.settings import Settings, SettingsError
from infrastructure.simulators import carrier, psp, web
from services.cli import credentials
from services.cli.metrics import expose
from services.cli.usage import examples


@dataclass(frozen=True)
class Simulator:
    name: str
    what: str
    schema: str
    create_app: Callable[[Settings, str], FastAPI]
    port: Callable[[Settings], int]
    port_variable: str
    about: str
    signs_webhooks: bool = False

    def register(self, app: typer.Typer, panel: str) -> None:
        default_port = f"${self.port_variable} or {self.port(Settings())}"

        def command(
            host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
            port: Annotated[
                int | None,
                typer.Option(min=1, max=65_535, help="port to listen on", show_default=default_port),
            ] = None,
            schema: Annotated[str, typer.Option(help="PostgreSQL schema of its records")] = self.schema,
        ) -> int:
            return self.serve(host, port, schema)

        app.command(
            self.name,
            rich_help_panel=panel,
            help=f"Serve {self.what} over HTTP.\n\n{self.about} Its records are in PostgreSQL, in"
            f" the schema {self.schema} by default: it needs DATABASE_URL. Ctrl-C or SIGTERM stops it.",
            epilog=examples(
                (f"orders {self.name}", f"on 127.0.0.1:{self.port(Settings())}"),
                (
                    f"ORDERS_METRICS_PORT=0 orders {self.name} --port 9200 --schema {self.schema}_2",
                    "a second one beside it",
                ),
            ),
        )(command)

    def serve(self, host: str, port: int | None, schema: str) -> int:
        logs.configure(self.name)
        try:
            settings = credentials.with_stack_keys(Settings.from_env())
            if not settings.database_url:
                raise SettingsError("DATABASE_URL must be set (run `orders dev up` and source .devstack/env)")
            if self.signs_webhooks and settings.psp_webhook_url and not settings.psp_webhook_secret:
                raise SettingsError("ORDERS_PSP_WEBHOOK_URL is set but ORDERS_PSP_WEBHOOK_SECRET is not")
            app = self.create_app(settings, schema)
            expose(self.name, settings)
            web.serve(app, host, port or self.port(settings))
        except (SettingsError, psycopg.Error, OSError) as error:
            print(f"orders {self.name}: error: {' '.join(str(error).split())}", file=sys.stderr)
            return 1
        return 0


SIMULATORS = (
    Simulator(
        "psp-sim",
        "the payment provider simulator",
        "psp",
        psp.create_app,
        lambda s: s.psp_port,
        "ORDERS_PSP_PORT",
        "A Stripe-like provider: authorizations, captures, voids and refunds, each answered once"
        " per Idempotency-Key, and webhooks (each sent twice) to ORDERS_PSP_WEBHOOK_URL, signed with"
        " ORDERS_PSP_WEBHOOK_SECRET. Test tokens such as tok_decline and tok_timeout_after_charge"
        " make each failure reproducible.",
        signs_webhooks=True,
    ),
    Simulator(
        "carrier-sim",
        "the carrier simulator",
        "carrier",
        carrier.create_app,
        lambda s: s.carrier_port,
        "ORDERS_CARRIER_PORT",
        "Books one parcel per Idempotency-Key, and cancels or hands over a booked one, never both."
        " A destination containing FAIL is refused; the X-Sim-Behaviour header loses an answer after"
        " the work is done.",
    ),
)


def register(app: typer.Typer, panel: str) -> None:
    for simulator in SIMULATORS:
        simulator.register(app, panel)
