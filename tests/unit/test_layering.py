"""Dependencies point inward, checked on the source so that they cannot rot.

domain/ imports only the standard library (minus its I/O modules), `eventsourcing.domain`,
`eventsourcing.utils` and itself. services/ reaches infrastructure/ only through the
composition root and the entry points (the command line, and the operator's tools it
runs: the invariant check, the demo and the chaos run, which compose a whole system as an
operator would), or through the published language (`infrastructure.contracts`: schemas without
I/O, which the saga consumes), and infrastructure/ never imports services/. One module of
infrastructure/ is open to all of services/: `infrastructure.faults.crash_points`, the named
crash points that tests arm (docs/FAILURE-MODES.md). Fault injection cuts across the layers, and the
module does nothing but exit the process when an armed point is reached.
"""

import ast
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Standard-library modules that talk to files, processes or the network, or that load
# arbitrary modules by name. Top-level names: `os` also forbids `os.path`.
STDLIB_IO = frozenset(
    {"asyncio", "http", "importlib", "io", "os", "pathlib", "selectors", "shutil", "socket",
     "socketserver", "sqlite3", "ssl", "subprocess", "tempfile", "urllib"}
)  # fmt: skip
DOMAIN_MAY_IMPORT = ("domain", "eventsourcing.domain", "eventsourcing.utils")
ENTRY_POINTS = (
    "services/bootstrap.py",  # the composition root: the one module that wires infrastructure in
    "services/cli/",  # the processes' entry points: each hands the root its settings
    "services/ops/",  # the operator's tools (check, demo, chaos, reconcile, trace, the dashboard's reads)
)
PUBLISHED_LANGUAGE = "infrastructure.contracts"
CRASH_POINTS = "infrastructure.faults.crash_points"
CONTRACTS_MAY_IMPORT = ("domain", "pydantic", PUBLISHED_LANGUAGE)


def imported_modules(source: str) -> list[str]:
    """Every absolute module an import statement names; relative imports stay in their package.
    `from a import b` counts as `a.b`, since `b` may be a module."""
    names = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names += [f"{node.module}.{alias.name}" for alias in node.names]
    return names


def within(module: str, package: str) -> bool:
    return module == package or module.startswith(f"{package}.")


def domain_may_import(module: str) -> bool:
    top = module.partition(".")[0]
    in_stdlib = top in sys.stdlib_module_names and top not in STDLIB_IO
    return in_stdlib or any(within(module, allowed) for allowed in DOMAIN_MAY_IMPORT)


def services_may_import(module: str, path: str) -> bool:
    open_to_services = within(module, PUBLISHED_LANGUAGE) or within(module, CRASH_POINTS)
    reaches_infrastructure = within(module, "infrastructure") and not open_to_services
    return not reaches_infrastructure or path.startswith(ENTRY_POINTS)


def contracts_may_import(module: str) -> bool:
    top = module.partition(".")[0]
    in_stdlib = top in sys.stdlib_module_names and top not in STDLIB_IO
    return in_stdlib or any(within(module, allowed) for allowed in CONTRACTS_MAY_IMPORT)


def infrastructure_may_import(module: str) -> bool:
    return not within(module, "services")


def domain_violations(source: str) -> list[str]:
    return [module for module in imported_modules(source) if not domain_may_import(module)]


def services_violations(source: str, path: str) -> list[str]:
    return [module for module in imported_modules(source) if not services_may_import(module, path)]


def infrastructure_violations(source: str) -> list[str]:
    return [module for module in imported_modules(source) if not infrastructure_may_import(module)]


def contracts_violations(source: str) -> list[str]:
    return [module for module in imported_modules(source) if not contracts_may_import(module)]


def layer_violations(layer: str, check: Callable[[str, str], list[str]]) -> dict[str, list[str]]:
    """`{module path: forbidden imports}` over every module of the layer."""
    paths = sorted((ROOT / layer).rglob("*.py"))
    assert len(paths) > 1, f"found no modules under {ROOT / layer}"
    found = {str(p.relative_to(ROOT)): check(p.read_text(), str(p.relative_to(ROOT))) for p in paths}
    return {path: modules for path, modules in found.items() if modules}


def test_domain_imports_only_the_standard_library_the_eventsourcing_model_and_itself() -> None:
    assert layer_violations("domain", lambda source, _: domain_violations(source)) == {}


def test_services_reach_infrastructure_only_through_the_composition_root_and_entry_points() -> None:
    assert layer_violations("services", services_violations) == {}


def test_the_published_language_imports_only_the_domain_pydantic_and_the_standard_library() -> None:
    assert layer_violations("infrastructure/contracts", lambda source, _: contracts_violations(source)) == {}


def test_the_contracts_check_reports_io() -> None:
    assert contracts_violations("import psycopg\nfrom kafka import KafkaProducer") == [
        "psycopg",
        "kafka.KafkaProducer",
    ]
    assert contracts_violations("from pydantic import BaseModel\nfrom domain.orders import Order") == []


def test_infrastructure_does_not_import_services() -> None:
    assert layer_violations("infrastructure", lambda source, _: infrastructure_violations(source)) == {}


@pytest.mark.parametrize(
    ("source", "violation"),
    [
        ("import psycopg", "psycopg"),
        ("import kafka.producer", "kafka.producer"),
        ("from infrastructure.settings import Settings", "infrastructure.settings.Settings"),
        ("from services import application", "services.application"),
        ("import projections", "projections"),
        ("from eventsourcing.application import Application", "eventsourcing.application.Application"),
        ("from eventsourcing import persistence", "eventsourcing.persistence"),
        ("import socket", "socket"),
        ("from urllib.request import urlopen", "urllib.request.urlopen"),
        ("from os import path", "os.path"),
        ("import pathlib", "pathlib"),
        ("def load():\n    import sqlite3", "sqlite3"),
    ],
)
def test_the_domain_check_reports_a_forbidden_import(source: str, violation: str) -> None:
    assert domain_violations(source) == [violation]


@pytest.mark.parametrize(
    "source",
    [
        "from eventsourcing.domain import Aggregate",
        "from eventsourcing import domain",
        "from eventsourcing.utils import register_topic",
        "from domain.money import Money",
        "import hashlib, json",
        "from . import money",
    ],
)
def test_the_domain_check_accepts_what_the_domain_may_import(source: str) -> None:
    assert domain_violations(source) == []


def test_the_services_check_allows_infrastructure_only_in_the_entry_points() -> None:
    source = "from infrastructure.settings import Settings"
    assert services_violations(source, "services/contexts/orders/service.py") == [
        "infrastructure.settings.Settings"
    ]
    assert services_violations(source, "services/bootstrap.py") == []
    assert services_violations(source, "services/cli/dev.py") == []
    assert services_violations("from infrastructure.contracts import TOPICS", "services/saga/x.py") == []
    crash = "from infrastructure.faults.crash_points import crash_point"
    assert services_violations(crash, "services/contexts/payments/service.py") == []
    proxy = "from infrastructure.faults.tcp_proxy import TcpProxy"
    assert services_violations(proxy, "services/contexts/payments/service.py") == [
        "infrastructure.faults.tcp_proxy.TcpProxy"
    ]


def test_the_infrastructure_check_reports_an_import_of_services() -> None:
    assert infrastructure_violations("from services.bootstrap import build") == ["services.bootstrap.build"]
