"""Ruff, as the repository configures it, over every file the generator writes or edits:
imports sorted where the context's name puts them, and code laid out for its names' lengths.
Run on the text before anything is written; the project's virtualenv has ruff (make install)."""

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

from services.ops.scaffold.errors import ScaffoldError

TIMEOUT_S = 60


class Formatter:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.ruff = _ruff()
        # The new modules do not exist yet, so ruff would take `domain.<name>` for a third
        # party's: name the repository's packages first-party, as they are once written.
        packages = sorted(path.name for path in root.iterdir() if (path / "__init__.py").is_file())
        self.first_party = f"lint.isort.known-first-party = {packages!r}"

    def format(self, path: str, text: str) -> str:
        """`text` as `ruff check --select I --fix` and then `ruff format` leave it, for the
        file at `path` (relative to the root, whose pyproject.toml configures ruff)."""
        sorted_imports = self._run(
            path,
            text,
            "check",
            "--select",
            "I",
            "--fix",
            "--exit-zero",
            "--quiet",
            "--config",
            self.first_party,
        )
        return self._run(path, sorted_imports, "format", "--quiet")

    def _run(self, path: str, text: str, *arguments: str) -> str:
        command = [*self.ruff, *arguments, "--no-cache", "--stdin-filename", path, "-"]
        try:
            done = subprocess.run(
                command, input=text, cwd=self.root, capture_output=True, text=True, timeout=TIMEOUT_S
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            raise ScaffoldError(f"ruff could not format {path}: {error}") from None
        if done.returncode != 0:
            problem = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise ScaffoldError(f"ruff could not format {path}: {problem}")
        return done.stdout


def _ruff() -> list[str]:
    """How to run ruff: the one installed beside this interpreter, or on the PATH."""
    if importlib.util.find_spec("ruff") is not None:
        return [sys.executable, "-m", "ruff"]
    found = shutil.which("ruff")
    if found is None:
        raise ScaffoldError("ruff formats the generated code and is not installed: run `make install`")
    return [found]
