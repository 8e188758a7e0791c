"""`orders bench [--tiny] [--out DIR]`: each building block against its limit, in one run.

The benchmark is `bench/blocks/` of a source checkout (bench/README.md). bench/ is not one
of the installed packages (pyproject.toml installs domain, infrastructure, projections and
services; the Docker image copies only those), so this command runs `python -m bench.blocks`
from the checkout this code was installed from, as `make install` installs it (editable).
An installation without bench/ is told so in one line, with exit code 1.
"""

import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

from services.cli import terminal
from services.cli.usage import examples

# The checkout the `services` package sits in, if it is one.
CHECKOUT = Path(__file__).resolve().parents[2]


def register(app: typer.Typer, panel: str) -> None:
    app.command(
        "bench",
        rich_help_panel=panel,
        help="Measure each building block against its limit (bench/README.md).\n\n"
        "In one run on the same PostgreSQL and broker: the command path against a raw insert and"
        " the eventsourcing library's own save, at 1 and 4 threads; a replayed command against its"
        " first execution and a point read; the relay against a raw producer; a projector against a"
        " raw consumer; and the HTTP API with its idempotency layer against the same endpoint"
        " without it. Prints a table of ratios next to their targets (never asserted), writes"
        " latest.json and latest.md and appends to history.jsonl. Uses DATABASE_URL and"
        " KAFKA_BOOTSTRAP_SERVERS, or the dev stack. About 2 minutes; --tiny, seconds. Needs a"
        " source checkout: bench/ is not installed.",
        epilog=examples(
            ("orders bench", "the full run, results in bench/results"),
            ("orders bench --tiny --out /tmp/bench", "a few seconds, to see that it works"),
        ),
    )(_bench)


def _bench(
    tiny: Annotated[
        bool, typer.Option("--tiny", help="a few operations of each kind: seconds, not minutes")
    ] = False,
    out: Annotated[
        Path | None,
        typer.Option(help="where the results go", show_default="bench/results of the checkout"),
    ] = None,
) -> int:
    if not (CHECKOUT / "bench" / "blocks" / "__main__.py").is_file():
        terminal.error(
            f"the benchmark is in bench/ of a source checkout, and {CHECKOUT} has none"
            " (installed without it): run it from a clone, after `make install`"
        )
        return 1
    arguments = ["--tiny"] * tiny + (["--out", str(out.resolve())] if out else [])
    return subprocess.run(
        [sys.executable, "-m", "bench.blocks", *arguments], cwd=CHECKOUT, check=False
    ).returncode
