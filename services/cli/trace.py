"""`orders trace ORDER_ID [--json]`: follow one order through the system, from PostgreSQL alone.

It prints the order's causal chain as a tree (services/ops/trace/): the request that placed
it, every command about it with its outcome, each context's events and whether they are
published, the calls to the provider and the carrier with every attempt under their keys,
webhooks, compensations and deadlines. `--json` prints the same for a script. An id that is
not a UUID exits with 2; an order that is not there, or a database that cannot be read, with
1; either way in one line.
"""

import json
import sys
from typing import Annotated
from uuid import UUID

import psycopg
import typer
from eventsourcing.persistence import MapperDeserialisationError, PersistenceError
from rich.console import Console

from infrastructure.settings import Settings
from services.cli import credentials, terminal
from services.cli.usage import examples
from services.ops.trace import UnknownOrderError, as_json, as_tree, database_of, trace_order

PIPED_WIDTH = 1000


def register(app: typer.Typer, panel: str) -> None:
    app.command(
        "trace",
        rich_help_panel=panel,
        help="Follow one order through the system: its causal chain as a tree.\n\n"
        "From PostgreSQL alone: the request that placed the order (its correlation id), every"
        " command about it with its outcome, each context's events and whether the relay has"
        " published them, the saga's commands under the events that caused them, the calls to the"
        " provider and the carrier with every attempt under their idempotency keys, the provider's"
        " webhooks, compensations and deadlines. Needs DATABASE_URL; uses the dev stack's keys when"
        " it is its database. Exit code 1 when there is no such order, 2 for an id that is not one.",
        epilog=examples(
            ("orders trace 3f2c8a4e-5b1d-4c7e-9a0f-6d2b1e8c7a55", "the order with that id"),
            ("orders trace ORDER_ID --json | jq '.requests'", "the same as JSON, for a script"),
        ),
    )(_trace)


def _trace(
    order_id: Annotated[
        str, typer.Argument(metavar="ORDER_ID", help="the order's id (a UUID), as the API answered it")
    ],
    json_out: Annotated[bool, typer.Option("--json", help="print the trace as JSON")] = False,
) -> int:
    try:
        order = UUID(order_id)
    except ValueError:
        terminal.error(f"not an order id: {order_id!r} (order ids are UUIDs)")
        return 2
    settings = credentials.with_stack_keys(Settings.from_env())
    if not settings.database_url:
        terminal.error("DATABASE_URL is not set (source .devstack/env, or set it)")
        return 1
    try:
        trace = trace_order(settings, order)
    except UnknownOrderError as unknown:
        terminal.error(str(unknown))
        return 1
    except (psycopg.Error, PersistenceError) as error:
        terminal.error(f"cannot read the {database_of(settings)}: {' '.join(str(error).split())}")
        return 1
    except MapperDeserialisationError as error:  # the events are encrypted under another key
        terminal.error(
            f"cannot decode the order's events: {error} (is ORDERS_CIPHER_KEY the key they were stored with?)"
        )
        return 1
    if json_out:
        print(json.dumps(as_json(trace, database_of(settings)), indent=2))
    else:
        # On a terminal the lines wrap to its width; piped, each stays whole, for grep.
        Console(highlight=False, width=None if sys.stdout.isatty() else PIPED_WIDTH).print(as_tree(trace))
    return 0
