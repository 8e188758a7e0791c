"""Every code reference in the docs names something the code defines, so they cannot drift.

Checked in README.md and every docs/**/*.md, in backticks outside fenced blocks:

(a) `path/to/file.py:name` names a top-level function or class of that file, and
    `path/to/file.py:Class.method` a function defined in the body of that class (nested
    classes too: `Class.Inner.method`);
(b) `path/to/file.py::test_name` names a test of that file, in pytest's node-id form: a
    top-level `test_*` function, a `Test*` class (or a name bound to one, such as a
    Hypothesis state machine's `TestCase`), or `Test*::test_*`, a test method the class
    defines or inherits from a base it defines or imports; a `[parameters]` suffix is allowed.

That the file itself exists is checked once, with every other backticked path, by
tests/unit/test_docs.py; a reference to a missing file is left to it. The files are parsed
with `ast`, never imported.
"""

import ast
import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from .test_docs import DOCS, INLINE_CODE, PATH, ROOT, prose_lines

IDENTIFIER = r"[A-Za-z_]\w*"
# `path.py:name.name...` (code) or `path.py::name::name...[parameters]` (a test's node id).
REFERENCE = re.compile(
    r"(?P<path>[^\s:`]+\.py)"
    rf"(?:::(?P<test>{IDENTIFIER}(?:::{IDENTIFIER})*)(?:\[[^\]]*\])?"
    rf"|:(?P<code>{IDENTIFIER}(?:\.{IDENTIFIER})*))"
)


@dataclass(frozen=True)
class Reference:
    line: int
    text: str  # as written between the backticks
    path: str
    names: tuple[str, ...]  # the dotted or ::-separated parts after the path
    is_test: bool


def spans(markdown: str) -> Iterator[tuple[int, str]]:
    """(line number, text) of every inline code span outside fenced blocks."""
    for number, line in prose_lines(markdown):
        for span in INLINE_CODE.findall(line):
            yield number, span.strip()


def references(markdown: str) -> list[Reference]:
    """The spans that are code references; their paths are the ones test_docs.py checks."""
    found = []
    for number, span in spans(markdown):
        match = REFERENCE.fullmatch(span)
        if match is None or not PATH.fullmatch(match["path"]):
            continue
        if match["test"] is not None:
            found.append(Reference(number, span, match["path"], tuple(match["test"].split("::")), True))
        else:
            found.append(Reference(number, span, match["path"], tuple(match["code"].split(".")), False))
    return found


# --- reading the code ---------------------------------------------------------------------------


@functools.cache
def _module(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def _top_level(tree: ast.Module) -> dict[str, ast.stmt]:
    """Functions and classes defined at the top of a module, and names assigned there."""
    defined: dict[str, ast.stmt] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            defined[node.name] = node
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            defined.update({t.id: node for t in targets if isinstance(t, ast.Name)})
    return defined


def _members(cls: ast.ClassDef) -> dict[str, ast.stmt]:
    return {
        node.name: node
        for node in cls.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
    }


def code_problem(root: Path, path: str, names: tuple[str, ...]) -> str:
    """Why `path:names` names nothing the file defines, or ""."""
    scope = {
        k: v
        for k, v in _top_level(_module(root / path)).items()
        if not isinstance(v, ast.Assign | ast.AnnAssign)
    }
    for depth, name in enumerate(names):
        node = scope.get(name)
        if node is None:
            where = f"class {'.'.join(names[:depth])}" if depth else "the top level"
            return f"{path} defines no function or class {name!r} at {where}"
        if depth + 1 < len(names):
            if not isinstance(node, ast.ClassDef):
                return f"{'.'.join(names[: depth + 1])} in {path} is not a class"
            scope = _members(node)
    return ""


def _imported_module(root: Path, source: Path, node: ast.ImportFrom) -> Path | None:
    """The file an import in `source` reads from: relative to `source`'s folder, or found under
    one of its ancestors up to the repository's root (tests import `support.x` from tests/)."""
    parts = (node.module or "").split(".") if node.module else []
    if node.level:
        bases = [source.parents[node.level - 1]]
    else:
        bases = [folder for folder in source.parents if folder == root or root in folder.parents]
    for base in bases:
        candidate = base.joinpath(*parts).with_suffix(".py") if parts else None
        if candidate is not None and candidate.is_file():
            return candidate
    return None


def _class(root: Path, source: Path, name: str, seen: frozenset[str]) -> tuple[Path, ast.ClassDef] | None:
    """The class `name` as `source` sees it: defined there, or imported from another file."""
    key = f"{source}:{name}"
    if key in seen:
        return None
    tree = _module(source)
    defined = _top_level(tree).get(name)
    if isinstance(defined, ast.ClassDef):
        return source, defined
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if (alias.asname or alias.name) == name:
                    module = _imported_module(root, source, node)
                    return _class(root, module, alias.name, seen | {key}) if module else None
    return None


def _has_method(root: Path, source: Path, cls: ast.ClassDef, method: str, seen: frozenset[str]) -> bool:
    """Whether `cls` defines `method`, or inherits it from a base that can be read."""
    if method in _members(cls):
        return True
    seen = seen | {f"{source}:{cls.name}"}
    bases = [_class(root, source, base.id, seen) for base in cls.bases if isinstance(base, ast.Name)]
    return any(_has_method(root, *found, method, seen) for found in bases if found is not None)


def node_id_problem(root: Path, path: str, names: tuple[str, ...]) -> str:
    """Why `path::names` is no test of the file, or ""."""
    source = root / path
    defined = _top_level(_module(source))
    first = names[0]
    if len(names) == 1 and first.startswith("test"):
        node = defined.get(first)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            return ""
        return f"{path} defines no test function {first!r}"
    if not first.startswith("Test") or first not in defined:
        return f"{path} defines no test class {first!r}"
    if len(names) == 1:
        return ""
    if len(names) > 2 or not names[1].startswith("test"):
        return f"{'::'.join(names)} is not a test method of a test class"
    cls = defined[first]
    if not isinstance(cls, ast.ClassDef) or not _has_method(root, source, cls, names[1], frozenset()):
        return f"{path}::{first} has no test method {names[1]!r}"
    return ""


def problems(markdown: str, root: Path, name: str = "") -> list[str]:
    """Each broken reference, as `doc:line: `reference`: why`."""
    found = []
    for ref in references(markdown):
        if not (root / ref.path).is_file():
            continue  # test_docs.py reports the missing file
        check = node_id_problem if ref.is_test else code_problem
        try:
            why = check(root, ref.path, ref.names)
        except SyntaxError as error:  # a file being edited: say so rather than crash the check
            where = Path(error.filename or root / ref.path)
            why = f"{where.relative_to(root)} cannot be parsed: {error.msg} (line {error.lineno})"
        if why:
            found.append(f"{name}:{ref.line}: `{ref.text}`: {why}")
    return found


# --- the repository's docs ----------------------------------------------------------------------


def test_every_code_reference_in_the_docs_names_something_the_code_defines() -> None:
    broken = [
        problem for doc in DOCS for problem in problems(doc.read_text(), ROOT, str(doc.relative_to(ROOT)))
    ]
    assert not broken, f"{len(broken)} broken reference(s) in the docs:\n" + "\n".join(broken)


def test_the_docs_hold_references_of_both_kinds() -> None:
    """So that the check above cannot pass by finding nothing to check."""
    found = [ref for doc in DOCS for ref in references(doc.read_text())]
    assert any(ref.is_test for ref in found)
    assert any(not ref.is_test and len(ref.names) > 1 for ref in found)


# --- the check can fail ---------------------------------------------------------------------------

SOURCE = """\
import functools

LIMIT = 3

class Greeter:
    class Polite:
        def bow(self) -> None: ...

    @functools.cache
    def greet(self, name: str) -> str:
        return name

async def main() -> None: ...
"""
TESTS = """\
from support.contract import Contract as Shared

from .support.contract import Contract

def test_greets() -> None: ...

def helper() -> None: ...

class TestGreeter(Contract):
    def test_bows(self) -> None: ...

class TestShared(Shared): ...

class Machine: ...

TestMachine = Machine
"""
CONTRACT = """\
class Base:
    def test_from_afar(self) -> None: ...

class Contract(Base):
    def test_inherited(self) -> None: ...
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    for path, text in {
        "pkg/greeter.py": SOURCE,
        "tests/test_greeter.py": TESTS,
        "tests/support/contract.py": CONTRACT,
        "pkg/broken.py": "def (:\n",
    }.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    return tmp_path


def test_references_to_what_a_file_defines_are_found(repo: Path) -> None:
    doc = (
        "`pkg/greeter.py:Greeter`, `pkg/greeter.py:Greeter.greet`, `pkg/greeter.py:Greeter.Polite.bow`,\n"
        "`pkg/greeter.py:main`, `tests/test_greeter.py::test_greets`, `tests/test_greeter.py::TestGreeter`,\n"
        "`tests/test_greeter.py::TestGreeter::test_bows`,\n"
        "`tests/test_greeter.py::TestGreeter::test_inherited` (from a base imported relatively),\n"
        "`tests/test_greeter.py::TestGreeter::test_from_afar` (from the base's base),\n"
        "`tests/test_greeter.py::TestShared::test_inherited` (from a base imported by name and renamed),\n"
        "`tests/test_greeter.py::TestMachine`, `tests/test_greeter.py::test_greets[one-2]`\n"
    )
    assert len(references(doc)) == 12
    assert problems(doc, repo, "doc.md") == []


def test_a_reference_to_something_the_file_does_not_define_is_reported(repo: Path) -> None:
    doc = (
        "`pkg/greeter.py:greet` and `pkg/greeter.py:Greeter.wave`\n"
        "`pkg/greeter.py:LIMIT` `pkg/greeter.py:main.inner`\n"
        "`tests/test_greeter.py::test_waves`, `tests/test_greeter.py::helper`\n"
        "`tests/test_greeter.py::TestGreeter::test_waves`, `tests/test_greeter.py::Machine`\n"
        "`pkg/broken.py:f`\n"
    )
    top = "pkg/greeter.py defines no function or class {!r} at the top level"
    *named, unparsed = problems(doc, repo, "doc.md")
    assert named == [
        "doc.md:1: `pkg/greeter.py:greet`: " + top.format("greet"),
        "doc.md:1: `pkg/greeter.py:Greeter.wave`: pkg/greeter.py defines no function or class 'wave'"
        " at class Greeter",
        "doc.md:2: `pkg/greeter.py:LIMIT`: " + top.format("LIMIT"),
        "doc.md:2: `pkg/greeter.py:main.inner`: main in pkg/greeter.py is not a class",
        "doc.md:3: `tests/test_greeter.py::test_waves`: tests/test_greeter.py defines no test function"
        " 'test_waves'",
        "doc.md:3: `tests/test_greeter.py::helper`: tests/test_greeter.py defines no test class 'helper'",
        "doc.md:4: `tests/test_greeter.py::TestGreeter::test_waves`: tests/test_greeter.py::TestGreeter"
        " has no test method 'test_waves'",
        "doc.md:4: `tests/test_greeter.py::Machine`: tests/test_greeter.py defines no test class 'Machine'",
    ]
    assert unparsed.startswith("doc.md:5: `pkg/broken.py:f`: pkg/broken.py cannot be parsed: ")


def test_what_is_not_a_code_reference_is_left_alone(repo: Path) -> None:
    doc = (
        "`pkg/greeter.py`, `pkg/greeter.py:12`, `pkg/greeter.py:3-9`, `domain.ids:payment_id`,\n"
        "`pkg/missing.py:gone` (test_docs.py reports the file), `answer:<call id>`, `a.py:f`,\n"
        "```\n`pkg/greeter.py:gone` in a fenced block\n```\n"
    )
    assert [ref.text for ref in references(doc)] == ["pkg/missing.py:gone"]
    assert problems(doc, repo, "doc.md") == []
