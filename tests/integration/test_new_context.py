"""`orders new-context NAME --aggregate CLASS [--saga]` adds a bounded context in
one command. In a copy of the repository it writes two, `returns` with saga steps and
`gift_cards` without; then the repository's lint, formatting, types, layering and registry
tests pass there, and so do the tests it generated, on the session's PostgreSQL and broker.
It refuses a name that is taken or invalid, or a registry it cannot edit, in one line and
without changing a file; and a write that fails midway is taken back.

The copy holds what git would commit from the working tree: the tracked files and the new
ones it does not ignore (the generator itself is new until committed), but no virtualenv
or local state, and of the caches only mypy's (checking unchanged files again costs a third
of its time). Every command runs in the copy with PYTHONPATH pointing at it, so the
copy's modules are imported, not the editable install's (a check says so first).
"""

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from services.ops.scaffold import ScaffoldError, generate, writing

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parents[2]
GENERATE = [sys.executable, "-m", "services.cli", "new-context"]
CONTEXTS = (("returns", "Return", True), ("gift_cards", "GiftCard", False))
CACHES = {"__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache", ".hypothesis"}


@dataclass(frozen=True)
class Copy:
    root: Path
    env: dict[str, str]

    def run(self, *command: str, timeout_s: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            command, cwd=self.root, env=self.env, capture_output=True, text=True, timeout=timeout_s
        )

    def generate(self, *arguments: str) -> subprocess.CompletedProcess[str]:
        return self.run(*GENERATE, *arguments, timeout_s=120)


def committable_files() -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return sorted(path for path in listed.split("\0") if path and (ROOT / path).is_file())


def tree_hash(root: Path) -> str:
    """Of every file's path and bytes under `root`, caches aside."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file() and not CACHES.intersection(path.relative_to(root).parts):
            digest.update(f"{path.relative_to(root)}\0".encode() + path.read_bytes() + b"\0")
    return digest.hexdigest()


def said(done: subprocess.CompletedProcess[str]) -> str:
    return f"exit {done.returncode}\n{done.stdout[-6000:]}\n{done.stderr[-6000:]}"


@pytest.fixture(scope="module")
def generated(
    tmp_path_factory: pytest.TempPathFactory, database_url: str, kafka_bootstrap_servers: str
) -> Copy:
    """A copy of the repository with both contexts generated in it."""
    root = tmp_path_factory.mktemp("repository")
    for relative in committable_files():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / relative, root / relative)
    if (ROOT / ".mypy_cache").is_dir():
        shutil.copytree(ROOT / ".mypy_cache", root / ".mypy_cache")
    env = {
        **os.environ,
        "PYTHONPATH": str(root),
        "DATABASE_URL": database_url,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap_servers,
    }
    copy = Copy(root, env)
    imported = copy.run(
        sys.executable, "-c", "import domain, services; print(domain.__file__, services.__file__)"
    )
    assert imported.stdout.split() == [str(root / "domain/__init__.py"), str(root / "services/__init__.py")]
    for name, aggregate, saga in CONTEXTS:
        done = copy.generate(name, "--aggregate", aggregate, *(["--saga"] if saga else []))
        assert done.returncode == 0, said(done)
        written = done.stdout.splitlines()
        assert f"tests/unit/test_{name}.py" in written
        assert (f"services/contexts/{name}/saga.py" in written) is saga
        assert written[-3:-1] == ["services/registry.py", "projections/catalog.py"]
    return copy


def test_the_generated_contexts_pass_the_repository_s_checks_and_their_own_tests(generated: Copy) -> None:
    python = sys.executable
    checks = {
        "ruff check": [python, "-m", "ruff", "check", "--no-cache", "."],
        "ruff format": [python, "-m", "ruff", "format", "--no-cache", "--check", "."],
        "mypy": [python, "-m", "mypy", "domain", "services"],
        "pytest": [
            python, "-m", "pytest", "-q", "-p", "no:cacheprovider",
            "tests/unit/test_layering.py", "tests/unit/test_registry.py", "tests/unit/test_docs.py",
            # the tests that pin the order flow, which a context with saga steps joins
            "tests/unit/test_saga_flows.py", "tests/unit/test_saga_deadlines.py",
            "tests/unit/test_stock_ownership.py", "tests/unit/test_api_problems.py",
            *(f"tests/unit/test_{name}.py" for name, _, _ in CONTEXTS),
            *(f"tests/integration/test_{name}_postgres.py" for name, _, _ in CONTEXTS),
            *(f"tests/integration/test_{name}_flow.py" for name, _, _ in CONTEXTS),
        ],
    }  # fmt: skip
    failed = {}
    for check, command in checks.items():  # each, so that a failure shows every other result too
        done = generated.run(*command, timeout_s=400)
        if done.returncode != 0:
            failed[check] = said(done)
    assert not failed, "\n\n".join(
        f"{check} failed in the copy: {output}" for check, output in failed.items()
    )


REFUSED = [
    (["orders", "--aggregate", "Order"], "there is a context named 'orders' already"),
    (["returns", "--aggregate", "Return", "--saga"], "there is a context named 'returns' already"),
    (["gift_cards", "--aggregate", "GiftCard"], "there is a context named 'gift_cards' already"),
    (["giftcards", "--aggregate", "Voucher"], "reads as the context 'gift_cards'"),
    (["GiftCards", "--aggregate", "GiftCard"], "use lowercase snake_case, as in 'gift_cards'"),
    (["9lives", "--aggregate", "Life"], "it must start with a letter"),
    (["class", "--aggregate", "Klass"], "'class' is a Python keyword"),
    (["gift-cards", "--aggregate", "GiftCard"], "join words with '_', as in 'gift_cards'"),
    (["loyalty", "--aggregate", "points_account"], "use PascalCase"),
    (["loyalty", "--aggregate", "Payment"], "the domain defines 'Payment' already (domain/payments.py)"),
    (["stock", "--aggregate", "Pallet"], "a projection named 'stock' exists already"),
    (["inventory_events", "--aggregate", "Ledger"], "the table 'inventory_events' exists already"),
    (["saga", "--aggregate", "Step"], "a projection named 'saga' exists already"),
    (["loyalty", "--aggregate", "Stock"], "the domain defines 'StockStateError' already (domain/errors.py)"),
]


@pytest.mark.parametrize(("arguments", "reason"), REFUSED, ids=[" ".join(a[:3]) for a, _ in REFUSED])
def test_a_taken_or_invalid_name_is_refused_in_one_line_and_nothing_changes(
    generated: Copy, arguments: list[str], reason: str
) -> None:
    before = tree_hash(generated.root)
    done = generated.generate(*arguments)
    assert (done.returncode, done.stdout) == (1, ""), said(done)
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert done.stderr.startswith("orders: error: ")
    assert reason in done.stderr
    assert tree_hash(generated.root) == before


def test_a_malformed_command_is_refused_with_its_usage_and_nothing_changes(generated: Copy) -> None:
    before = tree_hash(generated.root)
    done = generated.generate("loyalty")
    assert done.returncode == 2, said(done)
    assert "Missing option '--aggregate'" in done.stderr
    assert tree_hash(generated.root) == before


def test_a_registry_in_another_shape_is_refused_and_left_as_it_was(generated: Copy) -> None:
    registry = generated.root / "services" / "registry.py"
    original = registry.read_text()
    elsewise = original.replace("REGISTRY = Registry(", "REGISTRY = Registry(*[").replace(
        ")\nCONTEXTS", "])\nCONTEXTS"
    )
    assert elsewise != original
    registry.write_text(elsewise)
    try:
        before = tree_hash(generated.root)
        done = generated.generate("loyalty", "--aggregate", "PointsAccount")
        assert done.returncode == 1, said(done)
        assert "services/registry.py is not in the expected shape" in done.stderr
        assert tree_hash(generated.root) == before
    finally:
        registry.write_text(original)


def failing_on(condition: Callable[[Path], bool]) -> Callable[..., None]:
    real = writing.write

    def write(path: Path, text: str, *, new: bool) -> None:
        if condition(path):
            raise OSError(28, "No space left on device")
        real(path, text, new=new)

    return write


@pytest.mark.parametrize(
    "fails_at",
    [lambda path: path.name == "service.py", lambda path: path.name == "catalog.py"],
    ids=["a-new-file", "the-last-edit"],
)
def test_a_write_that_fails_midway_is_taken_back(
    generated: Copy, monkeypatch: pytest.MonkeyPatch, fails_at: Callable[[Path], bool]
) -> None:
    before = tree_hash(generated.root)
    monkeypatch.setattr(writing, "write", failing_on(fails_at))
    with pytest.raises(ScaffoldError, match=r"No space left on device.*nothing was changed"):
        generate(generated.root, "loyalty", "PointsAccount", saga=True)
    assert tree_hash(generated.root) == before
