"""`orders demo`: the in-process scenario on the embedded stack (or on DATABASE_URL)."""

import argparse
import dataclasses
from typing import Any

from domain.errors import DomainError
from infrastructure.devstack import DevStack
from infrastructure.payment_provider import InMemoryPaymentProvider
from infrastructure.settings import Settings
from services.bootstrap import build
from services.cli import dev
from services.demo.runner import run_demo


def register(subparsers: "argparse._SubParsersAction[Any]") -> None:
    demo = subparsers.add_parser("demo", help="run orders through every context, each command sent twice")
    demo.add_argument("--orders", type=_positive, default=100, help="how many orders (default: 100)")
    demo.add_argument("--seed", type=int, default=7, help="random seed for the scenario (default: 7)")
    demo.add_argument("--workers", type=_positive, default=4, help="orders run in parallel (default: 4)")
    demo.add_argument("--memory", action="store_true", help="keep everything in memory instead")
    demo.set_defaults(func=dev.reporting_errors(_demo))


def _demo(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    if args.memory:
        settings = dataclasses.replace(settings, database_url=None)
    elif settings.database_url is None:
        info = DevStack(settings.devstack_dir, step=dev.timed).up()
        settings = dataclasses.replace(settings, database_url=info.database_url)
    print(f"storage: {settings.database_url or 'in memory'}")
    provider = InMemoryPaymentProvider()
    system = build(settings, provider)
    try:
        ok = run_demo(system, provider, orders=args.orders, seed=args.seed, workers=args.workers)
    except DomainError as error:
        print(f"orders demo: unexpected refusal: {error}")
        return 1
    finally:
        system.close()
    print("all invariants hold" if ok else "INVARIANT VIOLATED")
    return 0 if ok else 1


def _positive(text: str) -> int:
    value = int(text)
    if not 0 < value <= 100_000:
        raise argparse.ArgumentTypeError(f"must be between 1 and 100000, got {value}")
    return value
