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

import sys
from typing import Annotated, Any

import typer

from infrastructure.deadlines import PostgresDeadlineStore
from projections import dlq
from projections.catalog import PROJECTIONS
from projections.errors import UnknownDeadLetterError
from projections.tables import ensure
from services.bootstrap import System, build
from services.cli import dead_letters
from services.cli.projections import reporting, settings_for
from services.cli.usage import examples, one_of
from services.saga import OrderSaga

CONSUMERS = [*sorted(PROJECTIONS), dead_letters.CONSUMER]


def register(app: typer.Typer, panel: str) -> None:
    dead = typer.Typer(
        help="Dead letters of the projections and the saga, and parked calls.\n\n"
        "What the system set aside because it could not be done. A projection's dead letter is an"
        " event it could not apply (its aggregate's later events wait behind it); the saga's is a"
        " record it could not act on; a parked call is a request the payment provider or the"
        " carrier refused for good. Dead letters have numbers (#12), a parked call is named by its"
        " call id. Needs DATABASE_URL.",
        epilog=examples(
            ("orders dlq list", "everything open, oldest first"),
            ("orders dlq retry '#12'", "hand dead letter 12 to its consumer again"),
            ("orders dlq discard 12", "close it for good"),
        ),
        no_args_is_help=True,
    )
    dead.command(
        "list",
        help="List the open dead letters, oldest first, then the parked calls.",
        epilog=examples(
            ("orders dlq list", "open dead letters and parked calls"),
            ("orders dlq list --projection stock", "only the stock projection's dead letters"),
            ("orders dlq list --all", "retried and discarded ones too"),
        ),
    )(reporting("dlq", _list))
    dead.command(
        "retry",
        help="Hand a dead letter (#N) to its consumer again, or ask a parked call again.\n\n"
        "A projection applies its dead letter again, and the events parked behind it; the saga"
        " handles its own again. Either way a letter that still fails stays open (exit code 1). A"
        " parked call becomes due again from its first attempt, and the gateway asks it at once.",
        epilog=examples(
            ("orders dlq retry '#12'", "dead letter 12 (the # is optional; quote it in a shell)"),
            ("orders dlq retry 12", "the same"),
            ("orders dlq retry CALL_ID", "a parked call, by the id `orders dlq list` shows"),
        ),
    )(reporting("dlq", _retry))
    dead.command(
        "discard",
        help="Skip a dead letter for good, then apply the events parked behind it.",
        epilog=examples(
            ("orders dlq discard 12", "close dead letter 12; its aggregate's later events go on")
        ),
    )(reporting("dlq", _discard))
    app.add_typer(dead, name="dlq", rich_help_panel=panel)


def _list(
    projection: Annotated[
        str | None, typer.Option(**one_of(CONSUMERS, "only this consumer's dead letters"))
    ] = None,
    everything: Annotated[bool, typer.Option("--all", help="include retried and discarded ones")] = False,
) -> int:
    settings = settings_for()
    entries = dlq.listed(settings, projection, everything)
    parked = [] if projection else _parked_calls(settings)
    if not entries and not parked:
        print("no dead letters" if everything else "no open dead letters, no parked calls")
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


def _retry(
    which: Annotated[
        str, typer.Argument(metavar="ID", help="a dead letter's number (#N or N), or a parked call's id")
    ],
) -> int:
    settings = settings_for()
    if not which.lstrip("#").isdigit():
        return _unpark(settings, which)
    letter_id = int(which.lstrip("#"))
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


def _discard(number: Annotated[int, typer.Argument(metavar="N", help="the dead letter's number")]) -> int:
    return _report(dlq.discard(settings_for(), number), "discarded")


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
