"""The docs quote real code and name real files, targets and commands, so they cannot drift.

Checked in README.md and every docs/**/*.md:

(a) a fenced block whose info string names a file (```python file=services/application.py)
    appears in that file verbatim, once the common indentation of each side is stripped;
(b) every repository path in backticks (`domain/ids.py`, `infrastructure/devstack/`) exists,
    also where it is followed by a line (`:12`), a name (`:payment_id`, checked by
    test_doc_references.py) or a test (`::test_x`);
(c) every `make X` names a Makefile target, and every `orders X Y` names subcommands that
    the command line (`services.cli.command()`) has.
"""

import re
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import typer
from typer.core import TyperGroup
from typer.main import get_group

from services.cli import command

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]

# Paths a running system creates; docs may name them, but they are not in the repository.
RUNTIME_ROOTS = (".devstack", ".venv")
FENCE = re.compile(r"^\s*(`{3,}|~{3,})(.*)$")
INLINE_CODE = re.compile(r"`([^`\n]+)`")
PATH = re.compile(r"[\w.*-]+(?:/[\w.*{},-]+)+/?|[\w.-]+/")
ROOT_FILE = re.compile(r"[\w.-]+\.(?:md|toml|yml|yaml|cfg|ini)|Makefile")
SHELL_INFO = {"", "sh", "bash", "shell", "console"}
MAKE_TARGET = re.compile(r"^([^\s:#=$.][^:#=]*?)\s*:(?!=)", re.MULTILINE)


@dataclass(frozen=True)
class Block:
    info: str
    body: str
    line: int


def fenced_blocks(markdown: str) -> list[Block]:
    """Every fenced code block, with its info string and the line its fence opens on."""
    blocks, lines = [], markdown.splitlines()
    i = 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if opening is None:
            i += 1
            continue
        fence, start = opening.group(1), i
        i += 1
        while i < len(lines) and not re.match(rf"^\s*{fence[0]}{{{len(fence)},}}\s*$", lines[i]):
            i += 1
        blocks.append(Block(opening.group(2).strip(), "\n".join(lines[start + 1 : i]), start + 1))
        i += 1
    return blocks


def prose_lines(markdown: str) -> Iterator[tuple[int, str]]:
    """(line number, line) of the markdown outside its fenced blocks: where inline code spans live."""
    inside = None
    for number, line in enumerate(markdown.splitlines(), start=1):
        fence = FENCE.match(line)
        if inside is None and fence:
            inside = fence.group(1)
        elif inside is not None and re.match(rf"^\s*{inside[0]}{{{len(inside)},}}\s*$", line):
            inside = None
        elif inside is None:
            yield number, line


def prose(markdown: str) -> str:
    """The markdown without its fenced blocks."""
    return "\n".join(line for _, line in prose_lines(markdown))


def inline_code(markdown: str) -> list[str]:
    return [span.strip() for span in INLINE_CODE.findall(prose(markdown))]


def shell_lines(markdown: str) -> list[str]:
    """Command lines of untyped or shell code blocks, without a leading `$ ` prompt."""
    lines = []
    for block in fenced_blocks(markdown):
        if block.info.split(" ", 1)[0] in SHELL_INFO:
            lines += [line.removeprefix("$ ") for line in block.body.splitlines()]
    return lines


# --- (a) quoted code ----------------------------------------------------------------------------


def _dedented_lines(text: str) -> list[str]:
    return [line.rstrip() for line in textwrap.dedent(text).strip("\n").splitlines()]


def appears_in(quote: str, source: str) -> bool:
    """True if `quote` is a run of consecutive lines of `source`, indentation aside."""
    wanted = _dedented_lines(quote)
    lines = source.splitlines()
    n = len(wanted)
    if n == 0:
        return False
    return any(_dedented_lines("\n".join(lines[i : i + n])) == wanted for i in range(len(lines) - n + 1))


def quote_problems(markdown: str, root: Path) -> list[str]:
    problems = []
    for block in fenced_blocks(markdown):
        named = re.search(r"(?:^|\s)file=(\S+)", block.info)
        if named is None:
            continue
        path = root / named.group(1)
        if not path.is_file():
            problems.append(f"line {block.line}: quotes {named.group(1)}, which does not exist")
        elif not appears_in(block.body, path.read_text()):
            problems.append(f"line {block.line}: the block is not in {named.group(1)} as quoted")
    return problems


# --- (b) paths ----------------------------------------------------------------------------------


def _expand_braces(path: str) -> list[str]:
    group = re.search(r"\{([^{}]*)\}", path)
    if group is None:
        return [path]
    head, tail = path[: group.start()], path[group.end() :]
    return [p for choice in group.group(1).split(",") for p in _expand_braces(head + choice + tail)]


def repository_paths(markdown: str) -> list[str]:
    """Backticked spans that name a file or directory of the repository."""
    paths = []
    for span in inline_code(markdown):
        candidate = re.sub(r"::.*$|:[A-Za-z_][\w.]*$|:\d+(-\d+)?$", "", span)
        if candidate.split("/", 1)[0] in RUNTIME_ROOTS:
            continue
        if PATH.fullmatch(candidate) or ROOT_FILE.fullmatch(candidate):
            paths.append(candidate)
    return paths


def path_problems(markdown: str, root: Path) -> list[str]:
    missing = []
    for path in repository_paths(markdown):
        for each in _expand_braces(path):
            found = any(root.glob(each)) if "*" in each else (root / each).exists()
            if not found:
                missing.append(each)
    return missing


# --- (c) make targets and orders subcommands -----------------------------------------------------


def makefile_targets(makefile: str) -> set[str]:
    return {name for match in MAKE_TARGET.findall(makefile) for name in match.split()}


def _commands(markdown: str, program: str) -> list[list[str]]:
    """The words after `program` in inline code and shell lines, up to the first option."""
    found = []
    for text in inline_code(markdown) + shell_lines(markdown):
        if not text.startswith(f"{program} "):
            continue
        words = []
        for word in text.split()[1:]:
            if not re.fullmatch(r"[a-z][\w-]*", word):
                break
            words.append(word)
        found.append(words)
    return found


def make_target_problems(markdown: str, makefile: str) -> list[str]:
    targets = makefile_targets(makefile)
    return [word for words in _commands(markdown, "make") for word in words if word not in targets]


def subcommand_problems(markdown: str, group: TyperGroup) -> list[str]:
    """`orders a b` must walk the command line's subcommands as far as it has them."""
    problems = []
    for words in _commands(markdown, "orders"):
        current, path = group, ["orders"]
        for word in words:
            if not isinstance(current, TyperGroup):
                break  # the rest are the command's own arguments
            if word not in current.commands:
                problems.append(f"{' '.join(path)} has no subcommand {word!r}")
                break
            current, path = current.commands[word], [*path, word]
    return problems


# --- the repository's docs ----------------------------------------------------------------------

EACH_DOC = pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))


def test_the_docs_include_the_readme_and_the_docs_folder() -> None:
    assert ROOT / "README.md" in DOCS
    assert ROOT / "docs" / "ARCHITECTURE.md" in DOCS


@EACH_DOC
def test_every_quoted_block_appears_in_the_file_it_names(doc: Path) -> None:
    assert quote_problems(doc.read_text(), ROOT) == []


@EACH_DOC
def test_every_repository_path_in_backticks_exists(doc: Path) -> None:
    assert path_problems(doc.read_text(), ROOT) == []


@EACH_DOC
def test_every_make_target_named_is_in_the_makefile(doc: Path) -> None:
    assert make_target_problems(doc.read_text(), (ROOT / "Makefile").read_text()) == []


@EACH_DOC
def test_every_orders_subcommand_named_is_in_the_command_line(doc: Path) -> None:
    assert subcommand_problems(doc.read_text(), command()) == []


# --- each check can fail ------------------------------------------------------------------------

SOURCE = """\
class Greeter:
    def greet(self, name: str) -> str:
        prefix = "hello"

        return f"{prefix} {name}"
"""


def test_a_quote_that_is_not_in_its_file_is_reported(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "greeter.py").write_text(SOURCE)
    exact = '```python file=pkg/greeter.py\ndef greet(self, name: str) -> str:\n    prefix = "hello"\n\n```'
    edited = "```python file=pkg/greeter.py\n    def greet(self, name: str) -> bytes:\n```"
    elsewhere = "```python file=pkg/missing.py\nclass Greeter:\n```"

    assert quote_problems(exact, tmp_path) == []
    assert quote_problems(edited, tmp_path) == ["line 1: the block is not in pkg/greeter.py as quoted"]
    assert quote_problems(elsewhere, tmp_path) == ["line 1: quotes pkg/missing.py, which does not exist"]


def test_a_quote_must_keep_the_order_and_blank_lines_of_its_file(tmp_path: Path) -> None:
    (tmp_path / "greeter.py").write_text(SOURCE)
    without_blank = '```python file=greeter.py\nprefix = "hello"\nreturn f"{prefix} {name}"\n```'
    assert quote_problems(without_blank, tmp_path) != []


def test_a_path_that_does_not_exist_is_reported(tmp_path: Path) -> None:
    (tmp_path / "domain").mkdir()
    (tmp_path / "domain" / "ids.py").write_text("")
    doc = (
        "See `domain/ids.py`, `domain/`, `domain/*.py`, `domain/{ids}.py`, `domain/ids.py::test_x`\n"
        "and `domain/ids.py:payment_id`, `domain/ids.py:12`, `domain/gone.py`, `services/`,\n"
        "`domain/{ids,nope}.py`, `domain/lost.py:Class.method`, `Makefile`.\n"
        "Not paths: `.devstack/env`, `domain.ids.payment_id`, `make demo`, `postgresql://h/db`.\n"
        "```\nIgnored/inside/a/block.py\n```\n"
    )
    assert path_problems(doc, tmp_path) == [
        "domain/gone.py",
        "services/",
        "domain/nope.py",
        "domain/lost.py",
        "Makefile",
    ]


def test_a_make_target_the_makefile_lacks_is_reported() -> None:
    makefile = ".PHONY: demo test\nVENV := .venv\n\ndemo: install\n\ttrue\ntest test-unit: install\n"
    doc = "Run `make demo`, then `make test-unit` or `make deploy`.\n```\n$ make release\n```\n"
    assert makefile_targets(makefile) == {"demo", "test", "test-unit"}
    assert make_target_problems(doc, makefile) == ["deploy", "release"]


def test_an_orders_subcommand_the_command_line_lacks_is_reported() -> None:
    app, dev = typer.Typer(), typer.Typer()
    dev.command("up")(lambda: None)
    app.add_typer(dev, name="dev")
    app.command("demo")(lambda orders: None)
    doc = (
        "`orders dev up`, `orders demo --orders 5`, `orders`, `orders_events`;\n"
        "`orders dev sideways`, `orders launch now`\n"
        "```\norders relay\n```\n"
    )
    assert subcommand_problems(doc, get_group(app)) == [
        "orders dev has no subcommand 'sideways'",
        "orders has no subcommand 'launch'",
        "orders has no subcommand 'relay'",
    ]
