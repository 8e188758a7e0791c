"""Writing a new context all at once or not at all: the new files are created (never over an
existing one) and the edited files replaced whole; if any write fails, the files written are
removed, the directories made for them too, and the edited files get their text back."""

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from services.ops.scaffold.edits import Edit
from services.ops.scaffold.errors import ScaffoldError


def write(path: Path, text: str, *, new: bool) -> None:
    """Create `path` with `text` (refusing one that exists), or replace it whole."""
    if new:
        with path.open("x", encoding="utf-8") as file:
            file.write(text)
        return
    staged = path.with_name(f".{path.name}.new-context")
    try:
        staged.write_text(text, encoding="utf-8")
        os.replace(staged, path)
    finally:
        staged.unlink(missing_ok=True)


def write_all(root: Path, files: Mapping[str, str], edits: Sequence[Edit]) -> None:
    created: list[Path] = []  # files and directories, in the order they were made
    edited: list[Edit] = []
    try:
        for relative, text in files.items():
            path = root / relative
            for directory in reversed(path.parents):
                if not directory.exists():
                    directory.mkdir()
                    created.append(directory)
            write(path, text, new=True)
            created.append(path)
        for edit in edits:
            path = root / edit.path
            if path.read_text(encoding="utf-8") != edit.before:
                raise ScaffoldError(f"{edit.path} changed while the context was written; nothing was changed")
            write(path, edit.after, new=False)
            edited.append(edit)
    except BaseException as error:
        _take_back(root, created, edited)
        if isinstance(error, ScaffoldError):
            raise
        if isinstance(error, Exception):
            raise ScaffoldError(f"writing failed ({error}); nothing was changed") from error
        raise


def _take_back(root: Path, created: list[Path], edited: list[Edit]) -> None:
    for edit in reversed(edited):
        write(root / edit.path, edit.before, new=False)
    for path in reversed(created):
        if path.is_dir():
            path.rmdir()
        else:
            path.unlink(missing_ok=True)
