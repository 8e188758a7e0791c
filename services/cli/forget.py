"""`orders forget CUSTOMER_ID [--tenant TENANT]`: erase a customer's personal data for good.

It deletes the customer's key (domain/privacy.py), so every address and card token sealed
under it, in the event store, the call tables, backups and every other copy, can never be
read again. The orders themselves, their events, the topics and the read models stay as they
are, and replay and projections keep working. An order of that customer still in flight is
declined or fails at its next call to the provider or the carrier. Forgetting twice is
harmless: the second time there is nothing left to forget (exit code 0 either way).
"""

import sys
from typing import Annotated

import psycopg
import typer

from domain.privacy import owner_of
from infrastructure.settings import Settings, SettingsError
from services.bootstrap import build
from services.cli import credentials
from services.cli.usage import examples


def register(app: typer.Typer, panel: str) -> None:
    app.command(
        "forget",
        rich_help_panel=panel,
        help="Erase a customer's personal data for good (crypto-shredding).\n\n"
        "Deletes the key the customer's addresses and card tokens are sealed under, so no copy"
        " of them (event store, call tables, backups) can be read again. The orders, their events,"
        " the topics and the read models stay, and replay keeps working; an order of theirs still"
        " in flight is declined or fails at its next call. Forgetting twice is harmless (exit code"
        " 0 either way). Needs DATABASE_URL; uses the dev stack's keys when it is its database.",
        epilog=examples(
            ("orders forget c-1", "the customer c-1, who ordered with no tenant"),
            ("orders forget c-1 --tenant acme", "the customer c-1 of the tenant acme"),
        ),
    )(_forget)


def _forget(
    customer_id: Annotated[
        str, typer.Argument(metavar="CUSTOMER_ID", help="the customer_id the orders were placed with")
    ],
    tenant: Annotated[
        str, typer.Option(help="the tenant (API client) the customer ordered through", show_default="none")
    ] = "",
) -> int:
    owner = owner_of(tenant, customer_id)
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
