"""`orders forget CUSTOMER_ID [--tenant TENANT]`: erase a customer's personal data for good.

It deletes the customer's key (domain/privacy.py), so every address and card token sealed
under it, in the event store, the call tables, backups and every other copy, can never be
read again. The orders themselves, their events, the topics and the read models stay as they
are, and replay and projections keep working. An order of that customer still in flight is
declined or fails at its next call to the provider or the carrier. Forgetting twice is
harmless: the second time there is nothing left to forget (exit code 0 either way).
"""

import argparse
import sys
from typing import Any

import psycopg

from domain.privacy import owner_of
from infrastructure.settings import Settings, SettingsError
from services.bootstrap import build
from services.cli import credentials


def register(subparsers: "argparse._SubParsersAction[Any]") -> None:
    forget = subparsers.add_parser("forget", help="erase a customer's personal data (crypto-shredding)")
    forget.add_argument(
        "customer_id", metavar="CUSTOMER_ID", help="the customer_id the orders were placed with"
    )
    forget.add_argument(
        "--tenant", default="", help="the tenant (API client) the customer ordered through (default: none)"
    )
    forget.set_defaults(func=_forget)


def _forget(args: argparse.Namespace) -> int:
    owner = owner_of(args.tenant, args.customer_id)
    try:
        settings = credentials.with_stack_keys(Settings.from_env())
        if not settings.database_url:
            raise SettingsError("DATABASE_URL is not set (source .devstack/env, or set it)")
        system = build(settings)
        try:
            forgotten = system.vault.forget(owner)
        finally:
            system.close()
    except (SettingsError, psycopg.Error) as error:
        print(f"orders forget: error: {' '.join(str(error).split())}", file=sys.stderr)
        return 1
    if forgotten:
        print(f"forgot {owner}: the addresses and card tokens of their orders can no longer be read")
    else:
        print(f"nothing to forget for {owner}: no key is kept for them")
    return 0
