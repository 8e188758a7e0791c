"""The two shared files a new context is entered in: the registry and the projections'
catalog. Each is parsed, the entry inserted where its shape says, and the result parsed again
and compared with what was there: the old entries all kept, the new one added, nothing else
changed. A file in another shape is refused, naming what was expected, for an edit by hand.
"""

import ast
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from services.ops.scaffold.errors import ScaffoldError
from services.ops.scaffold.names import Names

REGISTRY = "services/registry.py"
CATALOG = "projections/catalog.py"
REGISTRY_SHAPE = "`from services.contexts import <name>, ...` and `REGISTRY = Registry(<name>.CONTEXT, ...)`"
CATALOG_SHAPE = (
    "`from projections.<module> import <Class>` and"
    " `PROJECTIONS: dict[str, Projection] = {p.name: p for p in (<Class>(), ...)}`"
)


@dataclass(frozen=True)
class Edit:
    path: str  # relative to the repository's root
    before: str
    after: str


def registry_edit(root: Path, names: Names) -> Edit:
    """`services/registry.py` with the context imported and declared last in `REGISTRY`."""
    before = _read(root, REGISTRY)
    shape = _registry_shape(before)
    if shape is None:
        raise ScaffoldError(
            f"{REGISTRY} is not in the expected shape ({REGISTRY_SHAPE}): add the context by hand"
        )
    imported, _ = shape
    _check_unbound(before, REGISTRY, names.name)
    source = Source(before)
    tree = ast.parse(before)
    call = _registry_call(tree)
    assert call is not None
    source.insert_last(call.args[-1], call, f"{names.name}.CONTEXT")
    source.replace_statement(
        _import_of(tree, "services.contexts"), _import_line("services.contexts", [*imported, names.name])
    )
    after = source.text()
    verify_registry(before, after, names)
    return Edit(REGISTRY, before, after)


def verify_registry(before: str, after: str, names: Names) -> None:
    """Raise unless `after` is `before` with the context imported and appended to REGISTRY."""
    old, new = _registry_shape(before), _registry_shape(after)
    expected = None if old is None else (sorted([*old[0], names.name]), [*old[1], names.name])
    found = None if new is None else (sorted(new[0]), new[1])
    _verified(
        REGISTRY,
        before,
        after,
        found == expected,
        lambda n: _is_import(n, "services.contexts") or _is_registry(n),
    )


def catalog_edit(root: Path, names: Names) -> Edit:
    """`projections/catalog.py` with the read model imported and listed last in PROJECTIONS."""
    before = _read(root, CATALOG)
    shape = _catalog_shape(before)
    if shape is None:
        raise ScaffoldError(
            f"{CATALOG} is not in the expected shape ({CATALOG_SHAPE}): add the projection by hand"
        )
    _check_unbound(before, CATALOG, names.pascal)
    tree = ast.parse(before)
    listed = _catalog_tuple(tree)
    assert listed is not None
    source = Source(before)
    source.insert_last(listed.elts[-1], listed, f"{names.pascal}()")
    module = f"projections.{names.name}"
    imports = [
        n for n in tree.body if isinstance(n, ast.ImportFrom) and (n.module or "").startswith("projections.")
    ]
    following = [n for n in imports if (n.module or "") > module]
    line = _import_line(module, [names.pascal])
    if following:
        source.insert_before_statement(following[0], line)
    else:
        source.insert_after_statement(imports[-1], line)
    after = source.text()
    verify_catalog(before, after, names)
    return Edit(CATALOG, before, after)


def verify_catalog(before: str, after: str, names: Names) -> None:
    """Raise unless `after` is `before` with the read model imported and appended to PROJECTIONS."""
    old, new = _catalog_shape(before), _catalog_shape(after)
    expected = None if old is None else [*old, names.pascal]
    module = f"projections.{names.name}"
    imported = any(
        isinstance(n, ast.ImportFrom) and n.module == module and [a.name for a in n.names] == [names.pascal]
        for n in ast.parse(after).body
    )
    _verified(
        CATALOG,
        before,
        after,
        imported and new == expected,
        lambda n: _is_import(n, module) or _is_catalog(n),
    )


class Source:
    """A module's text, edited at positions `ast` gives, from the last edit to the first."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines(keepends=True)
        self.edits: list[tuple[int, int, int, int, str]] = []  # (line, col, end line, end col, text)

    def insert_last(self, last: ast.expr, container: ast.expr, item: str) -> None:
        """Add `item` after `last`, the last element of `container` (a call or a parenthesised
        tuple), in the container's layout: on the same line, or on a line of its own."""
        assert last.end_lineno is not None and last.end_col_offset is not None
        assert container.end_lineno is not None and container.end_col_offset is not None
        line, col = last.end_lineno, last.end_col_offset
        end_line, end_col = container.end_lineno, container.end_col_offset - 1  # at its bracket
        bracket = self._span(end_line, end_col, end_line, end_col + 1)
        between = self._span(line, col, end_line, end_col)
        head, newline, rest = between.partition("\n")
        only_comments = all(
            not part.replace(",", "").strip() or part.replace(",", "").strip().startswith("#")
            for part in between.split("\n")
        )
        if bracket != ")" or not only_comments or (not newline and head.replace(",", "").strip()):
            shown = ast.unparse(container)[:40]
            raise ScaffoldError(f"{shown}... is not laid out as expected: add the entry by hand")
        if newline:  # one element a line: the new one after the last and its comment, if any
            new = f",{head.replace(',', '')}\n{self._indent(last.lineno)}{item},\n{rest}"
        else:
            new = f", {item}{',' if ',' in head else ''}{head.replace(',', '')}"
        self.edits.append((line, col, end_line, end_col, new))

    def replace_statement(self, statement: ast.stmt, text: str) -> None:
        assert statement.end_lineno is not None
        self._whole_lines(statement)
        self.edits.append((statement.lineno, 0, statement.end_lineno + 1, 0, text))

    def insert_before_statement(self, statement: ast.stmt, text: str) -> None:
        self._whole_lines(statement)
        self.edits.append((statement.lineno, 0, statement.lineno, 0, text))

    def insert_after_statement(self, statement: ast.stmt, text: str) -> None:
        assert statement.end_lineno is not None
        self._whole_lines(statement)
        self.edits.append((statement.end_lineno + 1, 0, statement.end_lineno + 1, 0, text))

    def text(self) -> str:
        lines = [*self.lines, ""]
        for line, col, end_line, end_col, new in sorted(self.edits, reverse=True):
            head = "".join(lines[: line - 1]) + _prefix(lines[line - 1], col)
            tail = _suffix(lines[end_line - 1], end_col) + "".join(lines[end_line:])
            lines = [*(head + new + tail).splitlines(keepends=True), ""]
        return "".join(lines)

    def _span(self, line: int, col: int, end_line: int, end_col: int) -> str:
        if line == end_line:
            return _utf8(self.lines[line - 1])[col:end_col].decode()
        middle = "".join(self.lines[line : end_line - 1])
        head = _utf8(self.lines[line - 1])[col:].decode()
        return head + middle + _utf8(self.lines[end_line - 1])[:end_col].decode()

    def _indent(self, line: int) -> str:
        text = self.lines[line - 1]
        return text[: len(text) - len(text.lstrip())]

    def _whole_lines(self, statement: ast.stmt) -> None:
        """A statement edited as lines must have its lines to itself."""
        assert statement.end_lineno is not None and statement.end_col_offset is not None
        after = _utf8(self.lines[statement.end_lineno - 1])[statement.end_col_offset :].decode()
        if statement.col_offset != 0 or after.strip():
            raise ScaffoldError(
                f"line {statement.lineno} holds more than one statement: add the entry by hand"
            )


def _prefix(line: str, col: int) -> str:
    return _utf8(line)[:col].decode()


def _suffix(line: str, col: int) -> str:
    return _utf8(line)[col:].decode()


def _utf8(text: str) -> bytes:
    return text.encode()  # `ast` counts columns in UTF-8 bytes


def _import_line(module: str, members: list[str]) -> str:
    return f"from {module} import {', '.join(sorted(members))}\n"


def _read(root: Path, path: str) -> str:
    try:
        return (root / path).read_text(encoding="utf-8")
    except OSError as error:
        raise ScaffoldError(f"cannot read {path}: {error.strerror}") from None


def _parsed(text: str) -> ast.Module | None:
    try:
        return ast.parse(text)
    except SyntaxError:
        return None


def _check_unbound(text: str, path: str, name: str) -> None:
    tree = ast.parse(text)
    for node in tree.body:
        bound = []
        if isinstance(node, ast.Import | ast.ImportFrom):
            bound = [(a.asname or a.name).split(".")[0] for a in node.names]
        elif isinstance(node, ast.FunctionDef | ast.ClassDef):
            bound = [node.name]
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            bound = [t.id for t in targets if isinstance(t, ast.Name)]
        if name in bound:
            raise ScaffoldError(f"{path} already binds {name!r}")


def _is_import(node: ast.stmt, module: str) -> bool:
    return isinstance(node, ast.ImportFrom) and node.level == 0 and node.module == module


def _import_of(tree: ast.Module, module: str) -> ast.ImportFrom:
    found = [n for n in tree.body if _is_import(n, module)]
    assert len(found) == 1 and isinstance(found[0], ast.ImportFrom)
    return found[0]


def _is_registry(node: ast.stmt) -> bool:
    return (
        isinstance(node, ast.Assign)
        and len(node.targets) == 1
        and isinstance(node.targets[0], ast.Name)
        and node.targets[0].id == "REGISTRY"
    )


def _registry_call(tree: ast.Module) -> ast.Call | None:
    for node in tree.body:
        if _is_registry(node):
            assert isinstance(node, ast.Assign)
            value = node.value
            if (
                isinstance(value, ast.Call)
                and isinstance(value.func, ast.Name)
                and value.func.id == "Registry"
            ):
                return value
    return None


def _registry_shape(text: str) -> tuple[list[str], list[str]] | None:
    """(the context modules imported, the modules whose CONTEXT REGISTRY lists, in order), or
    None if the registry is not in the shape the generator edits."""
    tree = _parsed(text)
    if tree is None:
        return None
    imports = [n for n in tree.body if isinstance(n, ast.ImportFrom) and _is_import(n, "services.contexts")]
    call = _registry_call(tree)
    if len(imports) != 1 or call is None or call.keywords or not call.args:
        return None
    imported = [alias.name for alias in imports[0].names if alias.asname is None]
    if len(imported) != len(imports[0].names):
        return None
    declared = []
    for arg in call.args:
        if not (isinstance(arg, ast.Attribute) and arg.attr == "CONTEXT" and isinstance(arg.value, ast.Name)):
            return None
        if arg.value.id not in imported:
            return None
        declared.append(arg.value.id)
    return imported, declared


def _is_catalog(node: ast.stmt) -> bool:
    return (
        isinstance(node, ast.AnnAssign)
        and isinstance(node.target, ast.Name)
        and node.target.id == "PROJECTIONS"
    )


def _catalog_tuple(tree: ast.Module) -> ast.Tuple | None:
    for node in tree.body:
        if _is_catalog(node):
            assert isinstance(node, ast.AnnAssign)
            value = node.value
            if isinstance(value, ast.DictComp) and len(value.generators) == 1:
                listed = value.generators[0].iter
                if isinstance(listed, ast.Tuple) and listed.elts:
                    return listed
    return None


def _catalog_shape(text: str) -> list[str] | None:
    """The classes PROJECTIONS lists, in order, each imported from a projections module; or
    None if the catalog is not in the shape the generator edits."""
    tree = _parsed(text)
    if tree is None:
        return None
    listed = _catalog_tuple(tree)
    if listed is None:
        return None
    imported = {
        alias.asname or alias.name
        for node in tree.body
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("projections.")
        for alias in node.names
    }
    classes = []
    for element in listed.elts:
        if not (isinstance(element, ast.Call) and isinstance(element.func, ast.Name)):
            return None
        if element.args or element.keywords or element.func.id not in imported:
            return None
        classes.append(element.func.id)
    return classes


def _verified(
    path: str, before: str, after: str, entry_added: bool, edited: Callable[[ast.stmt], bool]
) -> None:
    """Raise unless the entry was added and every statement but the edited ones is unchanged."""
    new = _parsed(after)
    if new is None or not entry_added:
        raise ScaffoldError(f"the edit of {path} did not come out as intended: add the entry by hand")
    untouched = [ast.dump(n) for n in ast.parse(before).body if not edited(n)]
    if [ast.dump(n) for n in new.body if not edited(n)] != untouched:
        raise ScaffoldError(f"the edit of {path} changed more than its entry: add the entry by hand")
