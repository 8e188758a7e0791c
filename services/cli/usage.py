"""How the commands describe and check their arguments, so that every command's help reads
alike and a bad value is refused the same way: a line naming the argument, exit code 2.

typer shows help in rich markup, where text in square brackets that starts with a letter
is a style: an example is escaped before it is shown.
"""

from collections.abc import Callable, Iterable
from typing import Any, TypedDict

import typer
from rich.markup import escape


class Parsed(TypedDict):
    """An argument's parser and what its help shows: `typer.Option(**seconds(60), help=...)`."""

    parser: Callable[[str], Any]
    metavar: str


class Chosen(Parsed):
    help: str


def examples(*invocations: tuple[str, str]) -> str:
    """The "Examples" section that ends a command's help: each invocation below what it does."""
    shown = [f"[dim]# {escape(what)}[/dim]\n{escape(command)}" for command, what in invocations]
    return "\n\n".join(["[bold]Examples[/bold]", *shown])


def one_of(choices: Iterable[str], what: str) -> Chosen:
    """One of `choices` (names from a catalog, so not a Literal), listed after `what` in the help."""
    allowed = sorted(choices)

    def parse(text: str) -> str:
        if text not in allowed:
            raise typer.BadParameter(f"{text!r} is not one of {', '.join(allowed)}")
        return text

    return Chosen(parser=parse, metavar="NAME", help=f"{what}: {', '.join(allowed)}")


def seconds(most: float, *, zero: bool = False) -> Parsed:
    """A number of seconds up to `most`, and above 0 unless `zero` may be given."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise typer.BadParameter(f"not a number of seconds: {text!r}") from None
        if not (0 <= value <= most if zero else 0 < value <= most):
            low = "from 0" if zero else "more than 0"
            raise typer.BadParameter(f"must be {low} and at most {most:g} seconds, got {text}")
        return value

    return Parsed(parser=parse, metavar="SECONDS")
