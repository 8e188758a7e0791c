"""`orders dlq list|retry|discard`: what the system set aside because it could not be done.

Three kinds, one place to look:
  * a projection's dead letter: an event it could not apply (the events of that aggregate
    after it wait behind it);
  * the saga's dead letter: a record it could not act on (not an event, or about no order);
  * a parked call: a request the payment provider or the carrier refused for good.
Dead letters have numbers (`#12`); a parked call is named by its call id. `retry` hands a
dead letter to its consumer again, or makes a parked call due again from its first attempt;
`discard` closes a dead letter for good.
"""

import argparse
import sys
from typing import Any

from infrastructure.deadlines import PostgresDeadlineStore
from projections import dlq
from projections.catalog import PROJECTIONS
from projections.errors import UnknownDeadLetterError
from projections.tables import ensure
from services.bootstrap import System, build
from services.cli import dead_letters
from services.cli.projections import reporting, settings_for
from services.saga import OrderSaga

CONSUMERS = [*sorted(PROJECTIONS), dead_letters.CONSUMER]


def register(subparsers: "argparse._SubParsersAction[Any]") -> None:
    dead = subparsers.add_parser("dlq", help="dead letters of the projections and the saga, and parked calls")
    actions = dead.add_subparsers(title="actions", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="open dead letters, oldest first, then parked calls")
    listing.add_argument("--projection", choices=CONSUMERS, help="only this consumer's dead letters")
    listing.add_argument("--all", action="store_true", help="include retried and discarded ones")
    listing.set_defaults(func=reporting("dlq", _list))
    retry = actions.add_parser("retry", help="hand a dead letter over again (#N), or ask a parked call again")
    retry.add_argument("id", help="a dead letter's number, or a parked call's id")
    retry.set_defaults(func=reporting("dlq", _retry))
    discard = actions.add_parser("discard", help="skip a dead letter, then apply the events parked behind it")
    discard.add_argument("id", type=int)
    discard.set_defaults(func=reporting("dlq", _discard))


def _list(args: argparse.Namespace) -> int:
    settings = settings_for()
    entries = dlq.listed(settings, args.projection, args.all)
    parked = [] if args.projection else _parked_calls(settings)
    if not entries and not parked:
        print("no dead letters" if args.all else "no open dead letters, no parked calls")
    for entry in entries:
        letter = entry.letter
        version = letter.version if letter.version is not None else "?"
        print(f"#{letter.id} {letter.status:<9} {letter.projection} {letter.aggregate_id or '-'} v{version}")
        print(f"    from {letter.record.source}, {letter.dead_lettered_at:%Y-%m-%d %H:%M:%S}: {letter.error}")
        if entry.waiting:
            print(f"    waiting behind it: versions {', '.join(map(str, entry.waiting))}")
    for context, parked_call in parked:
        call = parked_call.call
        print(f"{call.call_id} parked    {context} {call.operation}, after {call.attempts} attempts")
        print(f"    {parked_call.parked_at:%Y-%m-%d %H:%M:%S}: {parked_call.error}")
    return 0


def _retry(args: argparse.Namespace) -> int:
    settings = settings_for()
    if not args.id.lstrip("#").isdigit():
        return _unpark(settings, args.id)
    letter_id = int(args.id.lstrip("#"))
    ensure(settings)
    letter = dlq.letter(settings, letter_id)
    if letter.projection != dead_letters.CONSUMER:
        return _report(dlq.retry(settings, letter_id), "retried")
    system = build(settings)
    deadlines = PostgresDeadlineStore(settings)
    try:
        failure = dead_letters.retry(settings, letter, OrderSaga(system, deadlines).handle)
    finally:
        deadlines.close()
        system.close()
    if failure:
        print(f"dead letter #{letter_id} still fails, left open: {failure}", file=sys.stderr)
        return 1
    print(f"dead letter #{letter_id} of the saga retried: handled")
    return 0


def _discard(args: argparse.Namespace) -> int:
    return _report(dlq.discard(settings_for(), args.id), "discarded")


def _unpark(settings: Any, call_id: str) -> int:
    system = build(settings)
    try:
        for context in system.registry.calling:
            if system.app(context.name).recorder.calls.unpark(call_id):  # type: ignore[attr-defined]
                print(f"call {call_id} of {context.name} is due again; the gateway asks it at once")
                return 0
    finally:
        system.close()
    raise UnknownDeadLetterError(f"no parked call {call_id!r} (see `orders dlq list`)")


def _parked_calls(settings: Any) -> list[tuple[str, Any]]:
    system: System = build(settings)
    try:
        calling = [(context.name, system.app(context.name)) for context in system.registry.calling]
        return [(name, call) for name, app in calling for call in app.recorder.calls.parked()]  # type: ignore[attr-defined]
    finally:
        system.close()


def _report(resolution: dlq.Resolution, done: str) -> int:
    letter = resolution.letter
    if resolution.error:
        print(f"dead letter #{letter.id} still fails, left open: {resolution.error}", file=sys.stderr)
        return 1
    print(f"dead letter #{letter.id} of {letter.projection} {done}; {resolution.counts.applied} applied")
    if resolution.waiting:
        print(f"still parked (a version before them is missing): {', '.join(map(str, resolution.waiting))}")
    return 0
