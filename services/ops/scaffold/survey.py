"""What the repository already names, read from its source (nothing is imported), so that a
new context clashes with none of it: a context, a module, a table, a topic, a projection, a
domain name, a stored event's topic, a published event type, an error code, an API path,
operation or schema, an undo step."""

import ast
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from services.ops.scaffold.errors import ScaffoldError
from services.ops.scaffold.names import STORE_TABLES, Names

LAYERS = ("domain", "infrastructure", "projections", "services", "tests", "bench")
RESERVED_PROJECTIONS = {"saga": "the saga keeps its dead letters under that name (services/cli/saga.py)"}

TABLE_PATTERNS = (
    re.compile(r"CREATE TABLE IF NOT EXISTS (?:\{[^}]*\}\.)?([A-Za-z_]\w*)"),
    re.compile(r"\bTable\(\s*\"(\w+)\""),
    re.compile(r"\bIdentifier\([^)]*?\"(\w+)\"\s*\)"),
)
PUBLISHED_NAME = re.compile(r"\bPublishedContext\(\s*\"(\w+)\"")
APP_NAME = re.compile(r"^\s+name\s*=\s*\"(\w+)\"", re.MULTILINE)
STORED_TOPIC = re.compile(r"\bTOPIC\s*=\s*\"([^\"]+)\"")
EVENT_TYPE = re.compile(r"\bevent_type\s*=\s*\"(\w+)\"")
ERROR_CODE = re.compile(r"^\s+code\s*=\s*\"(\w+)\"", re.MULTILINE)
OPERATION_ID = re.compile(r"\boperation_id\s*=\s*\"(\w+)\"")
ROUTE = re.compile(r"\.(?:get|post|put|patch|delete)\(\s*\"/([\w-]+)")
ROUTER_PREFIX = re.compile(r"\bAPIRouter\(\s*prefix\s*=\s*\"/v1/([\w-]+)")
UNDO_STEP = re.compile(r"\bUndo\(\s*\"(\w+)\"")


class Survey:
    """The repository's Python sources under `root`, read once."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.sources = {
            path.relative_to(root).as_posix(): path.read_text(encoding="utf-8")
            for layer in LAYERS
            if (root / layer).is_dir()
            for path in sorted((root / layer).rglob("*.py"))
            if "__pycache__" not in path.parts
        }

    def check_free(self, names: Names) -> None:
        """Raise `ScaffoldError` naming the first thing the new context's names clash with."""
        self._check_context(names)
        self._check(names.name, self._projections(), "a projection named {!r} exists already ({})")
        tables = self._tables()
        for table in names.tables:
            self._check(table, tables, "the table {!r} exists already ({})")
        unreachable = "System has an attribute {!r} ({}): `system.<context>` would not reach the context"
        self._check(names.name, self._system_attributes(), unreachable)
        checks = [
            (domain_names(names), self._domain_names(), "the domain defines {!r} already ({})"),
            (
                names.event_topics,
                self._literals(STORED_TOPIC),
                "a stored event's topic {!r} exists already ({})",
            ),
            (names.event_types, self._literals(EVENT_TYPE), "the event type {!r} is published already ({})"),
            (names.error_codes, self._literals(ERROR_CODE), "the error code {!r} is taken ({})"),
            (names.operation_ids, self._literals(OPERATION_ID), "the API operation {!r} exists already ({})"),
            ((names.dashed,), self._paths(), "the API path /v1/{} is taken ({})"),
            (names.schemas, self._api_classes(), "the API schema {!r} exists already ({})"),
            ((names.undo_step,), self._literals(UNDO_STEP), "the undo step {!r} exists already ({})"),
        ]
        for values, taken, message in checks:
            for value in values:
                self._check(value, taken, message)

    def _check_context(self, names: Names) -> None:
        contexts = self._contexts()
        if names.name in contexts:
            raise ScaffoldError(f"there is a context named {names.name!r} already ({contexts[names.name]})")
        letters = names.name.replace("_", "")
        for other, where in contexts.items():
            if other.replace("_", "") == letters:
                raise ScaffoldError(
                    f"{names.name!r} reads as the context {other!r} ({where}): the registry compares"
                    " names without their '_'"
                )

    def _contexts(self) -> dict[str, str]:
        """Every context name: a package under services/contexts/, or a published half
        declared anywhere (a test's registries declare contexts of their own)."""
        found: dict[str, str] = {}
        packages = self.root / "services" / "contexts"
        if packages.is_dir():
            for package in sorted(packages.iterdir()):
                if package.is_dir() and (package / "__init__.py").is_file():
                    found.setdefault(package.name, f"services/contexts/{package.name}/")
        for name, where in self._literals(PUBLISHED_NAME).items():
            found.setdefault(name, where)
        return found

    def _projections(self) -> dict[str, str]:
        found = dict(RESERVED_PROJECTIONS)
        for path, source in self.sources.items():
            if path.startswith("projections/"):
                for name in APP_NAME.findall(source):
                    found.setdefault(name, path)
        return found

    def _tables(self) -> dict[str, str]:
        """Tables the code creates or names, and every context's event store tables."""
        found: dict[str, str] = {}
        for path, source in self._non_test_sources():
            for pattern in TABLE_PATTERNS:
                for table in pattern.findall(source):
                    found.setdefault(table.lower(), path)
        for context, where in self._contexts().items():
            for suffix in STORE_TABLES:
                found.setdefault(f"{context}_{suffix}", where)
        for path, source in self.sources.items():
            if path.startswith("services/contexts/") and path.endswith("/service.py"):
                for app_name in APP_NAME.findall(source):
                    for suffix in STORE_TABLES:
                        found.setdefault(f"{app_name.lower()}_{suffix}", path)
        return found

    def _system_attributes(self) -> dict[str, str]:
        path = "services/bootstrap.py"
        tree = self._tree(path)
        system = next((n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "System"), None)
        if system is None:
            return {}
        return dict.fromkeys(_bound_names(system.body), f"{path}:System")

    def _domain_names(self) -> dict[str, str]:
        found: dict[str, str] = {}
        for path in self.sources:
            if path.startswith("domain/"):
                for name in _bound_names(self._tree(path).body):
                    found.setdefault(name, path)
        return found

    def _paths(self) -> dict[str, str]:
        found: dict[str, str] = {}
        for path, source in self.sources.items():
            if path.startswith("services/"):
                for pattern in (ROUTE, ROUTER_PREFIX):
                    for segment in pattern.findall(source):
                        found.setdefault(segment, path)
        return found

    def _api_classes(self) -> dict[str, str]:
        found: dict[str, str] = {}
        for path in self.sources:
            if path.startswith("services/api/") or re.fullmatch(r"services/contexts/\w+/api\.py", path):
                for node in self._tree(path).body:
                    if isinstance(node, ast.ClassDef):
                        found.setdefault(node.name, path)
        return found

    def _literals(self, pattern: re.Pattern[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for path, source in self.sources.items():
            for value in pattern.findall(source):
                found.setdefault(value, path)
        return found

    def _non_test_sources(self) -> Iterator[tuple[str, str]]:
        return ((p, s) for p, s in self.sources.items() if not p.startswith(("tests/", "bench/")))

    def _tree(self, path: str) -> ast.Module:
        try:
            return ast.parse(self.sources.get(path, ""), filename=path)
        except SyntaxError as error:
            raise ScaffoldError(f"{path} cannot be parsed (line {error.lineno}): fix it first") from None

    @staticmethod
    def _check(value: str, taken: dict[str, str], message: str) -> None:
        if value in taken:
            raise ScaffoldError(message.format(value, taken[value]))


def domain_names(names: Names) -> tuple[str, ...]:
    """The top-level names of the new domain module."""
    a = names.aggregate
    return (
        a,
        f"{a}Status",
        f"Open{a}",
        f"Close{a}",
        f"Unknown{a}Error",
        f"{a}StateError",
        f"{names.entity}_id",
    )


def _bound_names(body: Iterable[ast.stmt]) -> set[str]:
    """Classes, functions and assigned names at the top of `body`."""
    bound: set[str] = set()
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound.add(node.name)
        elif isinstance(node, ast.Assign):
            bound |= {target.id for target in node.targets if isinstance(target, ast.Name)}
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            bound.add(node.target.id)
    return bound
