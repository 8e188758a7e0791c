"""A new bounded context in one command: `generate(root, name, aggregate, saga)`, run as
`orders new-context NAME --aggregate CLASS [--saga]`.

It writes, in the shape of the existing contexts, from the templates in `templates/`:

    domain/<name>.py                        the aggregate, its events, commands, errors, rules
    infrastructure/contracts/<name>.py      its published events and their mapping
    services/contexts/<name>/service.py     its application: the command handlers
    services/contexts/<name>/api.py         its endpoints, behind the Idempotency-Key gate
    services/contexts/<name>/saga.py        (--saga) its step on OrderPlaced, and its undo
    services/contexts/<name>/__init__.py    its declaration, `CONTEXT`
    projections/<name>.py                   its read model
    tests/unit/test_<name>.py, tests/integration/test_<name>_{postgres,flow}.py

and enters the context in `services/registry.py` and its read model in
`projections/catalog.py`. Everything is decided before anything is written: the names are
checked (valid, and clashing with nothing the repository names), every file rendered,
formatted by ruff and parsed, the two edits made and verified, and none of the new files may
exist. Then all is written, or, if a write fails, everything written is taken back. A refusal
is a `ScaffoldError` whose message says why in one line.
"""

from pathlib import Path

from services.ops.scaffold.edits import Edit, catalog_edit, registry_edit, verify_catalog, verify_registry
from services.ops.scaffold.errors import ScaffoldError
from services.ops.scaffold.formatting import Formatter
from services.ops.scaffold.names import Names
from services.ops.scaffold.render import check_module, render_all
from services.ops.scaffold.survey import Survey
from services.ops.scaffold.writing import write_all

__all__ = ["ScaffoldError", "generate"]

# What a repository's root holds, for the generator to write and edit in it.
LANDMARKS = ("services/registry.py", "projections/catalog.py", "services/contexts", "domain", "tests/unit")


def generate(root: Path, name: str, aggregate: str, saga: bool) -> list[Path]:
    """Write the context `name`, whose aggregate is the class `aggregate`, into the repository
    at `root`; with `saga`, its saga steps too. Returns the files written, then those edited."""
    names = Names.checked(name, aggregate, saga)
    root = root.resolve()
    missing = [landmark for landmark in LANDMARKS if not (root / landmark).exists()]
    if missing:
        raise ScaffoldError(f"{root} is not the repository's root: it has no {missing[0]}")
    Survey(root).check_free(names)
    package = root / "services" / "contexts" / names.name
    files = render_all(names)
    for path, text in files.items():
        check_module(path, text)
    existing = [path for path in files if (root / path).exists()]
    if package.exists():
        existing.insert(0, f"services/contexts/{names.name}/")
    if existing:
        raise ScaffoldError(f"{existing[0]} exists already")
    edits = [registry_edit(root, names), catalog_edit(root, names)]

    formatter = Formatter(root)
    files = {path: formatter.format(path, text) for path, text in files.items()}
    edits = [Edit(edit.path, edit.before, formatter.format(edit.path, edit.after)) for edit in edits]
    for path, text in files.items():
        check_module(path, text)
    registry, catalog = edits
    verify_registry(registry.before, registry.after, names)
    verify_catalog(catalog.before, catalog.after, names)

    write_all(root, files, edits)
    return [root / path for path in files] + [root / edit.path for edit in edits]
