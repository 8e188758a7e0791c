"""`orders psp-sim` and `orders carrier-sim`: the system's two outside parties, a payment
provider and a carrier, each a process of its own with an HTTP API and its records in
PostgreSQL (schemas "psp" and "carrier"), so that the system reaches them only over the
network and every failure of that network can be reproduced.

Both need DATABASE_URL (`orders dev up`). The provider sends its webhooks to
ORDERS_PSP_WEBHOOK_URL when that is set, signed with ORDERS_PSP_WEBHOOK_SECRET (the dev
stack's when DATABASE_URL is its). Ctrl-C or SIGTERM stops them.
"""

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
from fastapi import FastAPI

from infrastructure.settings import Settings, SettingsError
from infrastructure.simulators import carrier, psp, web
from services.cli import credentials


@dataclass(frozen=True)
class Simulator:
    name: str
    what: str
    schema: str
    create_app: Callable[[Settings, str], FastAPI]
    port: Callable[[Settings], int]
    port_variable: str
    signs_webhooks: bool = False

    def register(self, subparsers: "argparse._SubParsersAction[Any]") -> None:
        parser = subparsers.add_parser(self.name, help=f"serve {self.what} over HTTP")
        parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
        parser.add_argument(
            "--port",
            type=_port,
            help=f"port to listen on (default: ${self.port_variable} or {self.port(Settings())})",
        )
        parser.add_argument(
            "--schema", default=self.schema, help=f"PostgreSQL schema of its records (default: {self.schema})"
        )
        parser.set_defaults(func=self.serve)

    def serve(self, args: argparse.Namespace) -> int:
        try:
            settings = credentials.with_stack_keys(Settings.from_env())
            if not settings.database_url:
                raise SettingsError("DATABASE_URL must be set (run `orders dev up` and source .devstack/env)")
            if self.signs_webhooks and settings.psp_webhook_url and not settings.psp_webhook_secret:
                raise SettingsError("ORDERS_PSP_WEBHOOK_URL is set but ORDERS_PSP_WEBHOOK_SECRET is not")
            web.serve(self.create_app(settings, args.schema), args.host, args.port or self.port(settings))
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
        signs_webhooks=True,
    ),
    Simulator(
        "carrier-sim",
        "the carrier simulator",
        "carrier",
        carrier.create_app,
        lambda s: s.carrier_port,
        "ORDERS_CARRIER_PORT",
    ),
)


def register(subparsers: "argparse._SubParsersAction[Any]") -> None:
    for simulator in SIMULATORS:
        simulator.register(subparsers)


def _port(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65_536:
        raise argparse.ArgumentTypeError(f"must be a port number (1-65535), got {text!r}")
    return int(text)
