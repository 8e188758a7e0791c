"""`orders new-context NAME --aggregate CLASS [--saga]`: add a bounded context to the
repository in one command (`services/ops/scaffold/`; docs/EXTENDING.md says what it writes
and what to do next). A refusal (a name that is taken or malformed, a directory that is not
the repository) is one line on stderr, exit code 1, and nothing written."""

from pathlib import Path
from typing import Annotated

import typer

from services.cli import terminal
from services.cli.usage import examples
from services.ops.scaffold import ScaffoldError, generate


def register(app: typer.Typer, panel: str) -> None:
    app.command(
        "new-context",
        rich_help_panel=panel,
        help="Add a bounded context to the repository, in the house style.\n\n"
        "Writes its aggregate (domain/NAME.py), published events (infrastructure/contracts/NAME.py),"
        " application, declaration and endpoints (services/contexts/NAME/), read model"
        " (projections/NAME.py) and tests, and enters it in services/registry.py and"
        " projections/catalog.py. With --saga, the saga opens one per order and closes it when the"
        " order stops. A name that is taken or malformed is refused, and nothing is written.",
        epilog=examples(
            ("orders new-context returns --aggregate Return --saga", "returns, with saga steps"),
            ("orders new-context gift_cards --aggregate GiftCard", "a two-word name, no saga steps"),
        ),
    )(_new_context)


def _new_context(
    name: Annotated[
        str, typer.Argument(metavar="NAME", help="the context's name, snake_case: returns, gift_cards")
    ],
    aggregate: Annotated[
        str, typer.Option(metavar="CLASS", help="its aggregate's class, PascalCase: GiftCard")
    ],
    saga: Annotated[
        bool,
        typer.Option("--saga", help="with saga steps: opened on OrderPlaced, closed once the order stops"),
    ] = False,
    root: Annotated[
        Path, typer.Option(help="the repository's root", show_default="the current directory")
    ] = Path("."),
) -> int:
    try:
        written = generate(root, name, aggregate, saga)
    except ScaffoldError as refusal:
        terminal.error(str(refusal))
        return 1
    for path in written:
        print(path.relative_to(root.resolve()))
    print(f"the context {name!r} is written; docs/EXTENDING.md says what to make of it next")
    return 0
