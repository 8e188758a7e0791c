"""What `orders` shows on a terminal, and what it writes anywhere else.

On a terminal, rich colours the help and the errors, and long work (`orders demo`, `orders
chaos`, `orders projections rebuild`) draws a progress bar on stderr. Piped or redirected (a
CI log, a test), the same output is plain text without ANSI codes, and long work prints the
periodic lines it always printed instead of a bar. NO_COLOR turns colour off on a terminal too.
"""

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, ProgressColumn, SpinnerColumn, TextColumn, TimeElapsedColumn

# How far long work got, and now and then a line for a log to show (None in between).
Advance = Callable[[float, str | None], None]


def error(message: str) -> None:
    """`orders: error: MESSAGE` on stderr, on one line however long (tests and scripts read it)."""
    console = Console(stderr=True, highlight=False, emoji=False)
    console.print(f"[bold red]orders: error:[/] {escape(message)}", soft_wrap=True)


@contextmanager
def track(what: str, total: float | None, unit: str = "") -> Iterator[Advance]:
    """Long work's progress: on a terminal, a bar on stderr (a spinner and a count when the
    total is not known), which stays once done; elsewhere the lines the work gives, on stdout."""
    console = Console(stderr=True)
    if not sys.stderr.isatty() or console.is_dumb_terminal:
        yield _print_lines
        return
    # Lines printed meanwhile go above the bar; stdout only when it is this terminal too.
    with Progress(*_columns(total, unit), console=console, redirect_stdout=sys.stdout.isatty()) as bar:
        task = bar.add_task(what, total=total)
        yield lambda done, _line: bar.update(task, completed=done)


def _print_lines(_done: float, line: str | None) -> None:
    if line is not None:
        print(line, flush=True)


def _columns(total: float | None, unit: str) -> list[ProgressColumn]:
    done = "{task.completed:,.0f}" if total is None else "{task.completed:,.0f}/{task.total:,.0f}"
    moving = SpinnerColumn() if total is None else BarColumn()
    return [
        TextColumn("{task.description}"),
        moving,
        TextColumn(f"{done} {unit}".rstrip()),
        TimeElapsedColumn(),
    ]
