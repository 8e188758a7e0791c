"""The `orders` command line: typer for its commands, options and help; rich for colour and
for progress bars, both only on a terminal (services/cli/terminal.py).

Each module in `PANELS` adds its commands through `register(app, panel)`, under that panel's
heading in `orders --help`, and each command returns its exit code, so a new command is one
new module plus one entry here. Every setting is checked once a command's arguments are
parsed and before it starts: help and usage errors need none, and an unusable setting stops
any command the same way.

Exit codes, the same for every command:

    0    success
    1    a reported error, explained on stderr: the check found a violated invariant, the
         demo or the chaos run did not keep one, a command refused (a dead letter that still
         fails; a server it needs that the settings do not name, such as DATABASE_URL for
         `orders relay`), or a server it needs failed it
    2    bad usage (an unknown command or option, a bad value), or a setting that is
         unusable, or missing where a server of the system's own cannot start without it
         (`orders api` on a database without ORDERS_API_KEYS); a setting's is one line,
         `orders: error: ...`
    130  interrupted (Ctrl-C)
"""

import functools
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import typer
from typer.core import TyperGroup
from typer.main import get_group

from infrastructure.settings import Settings, SettingsError
from services.cli import (
    api,
    bench,
    chaos,
    check,
    demo,
    dev,
    dlq,
    forget,
    gateway,
    new_context,
    projections,
    projector,
    reconcile,
    relay,
    run,
    saga,
    simulators,
    terminal,
    trace,
)
from services.cli.usage import examples


class CommandModule(Protocol):
    def register(self, app: typer.Typer, panel: str) -> None: ...


PANELS: dict[str, tuple[CommandModule, ...]] = {
    "Dev stack": (dev,),
    "Run the system": (run, demo, chaos, bench),
    "Single processes": (api, relay, gateway, saga, projector, simulators),
    "Operator tools": (check, reconcile, trace, projections, dlq, forget),
    "Extend it": (new_context,),
}

HELP = (
    "A reference system for idempotent, event-sourced order processing. Orders, inventory,"
    " payments and fulfillment are event-sourced on PostgreSQL, and every command is recorded"
    " with its events, so a repeated one appends nothing. A relay publishes each context's"
    " events to Kafka; the saga drives each order through the contexts, the gateway calls the"
    " payment provider and the carrier, and projectors keep the read models, each applying"
    " every record once however often it comes. `orders run` runs it all, `orders check`"
    " verifies its invariants from what the stores and the topics hold. Settings come from"
    " the environment (DATABASE_URL, KAFKA_BOOTSTRAP_SERVERS, ORDERS_*); without"
    " DATABASE_URL, the commands that need servers use the embedded dev stack."
)
EXAMPLES = examples(
    ("orders demo", "the system at work for a minute, then checked"),
    ("orders run", "run the system until Ctrl-C"),
    ("orders check --wait 60", "once it is quiescent, check it"),
    ("orders dev --help", "what a command does, with examples"),
)


class Orders(TyperGroup):
    """The commands in the order of their panels, and in each in the order they were added."""

    def list_commands(self, ctx: Any) -> list[str]:
        rank = {panel: place for place, panel in enumerate(PANELS)}
        return sorted(
            self.commands, key=lambda name: rank[getattr(self.commands[name], "rich_help_panel", "")]
        )


def build_app() -> typer.Typer:
    app = typer.Typer(
        name="orders",
        cls=Orders,
        help=HELP,
        epilog=EXAMPLES,
        rich_markup_mode="rich",
        add_completion=False,
        no_args_is_help=True,
    )
    for panel, modules in PANELS.items():
        for module in modules:
            module.register(app, panel)
    _settings_first(app)
    return app


def command() -> TyperGroup:
    """The command line as click sees it: `main` runs it, and the docs' test walks its commands."""
    return get_group(build_app())


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command and return its exit code (see above)."""
    try:
        command().main(args=argv, prog_name="orders")
    except SettingsError as error:
        terminal.error(str(error))
        return 2
    except SystemExit as ended:  # typer ends every run with one, usage errors and Ctrl-C included
        return ended.code if isinstance(ended.code, int) else int(ended.code is not None)
    return 0


def _settings_first(app: typer.Typer) -> None:
    for info in app.registered_commands:
        if info.callback is not None:
            info.callback = _checking_settings(info.callback)
    for group in app.registered_groups:
        if group.typer_instance is not None:
            _settings_first(group.typer_instance)


def _checking_settings(command: Callable[..., int]) -> Callable[..., None]:
    """`command`, run only once every setting is usable, its exit code made the process's."""

    @functools.wraps(command)
    def checked(*args: Any, **kwargs: Any) -> None:
        Settings.from_env()
        exit_code = command(*args, **kwargs)
        if exit_code:
            raise typer.Exit(exit_code)

    return checked
