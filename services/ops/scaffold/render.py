"""The templates, and the files they render for a new context.

`templates/` mirrors the repository: `templates/domain/NAME.py.tmpl` renders to
`domain/<name>.py`. A template is the code it produces, with `string.Template` placeholders
(`$name`, `$Class`, `${Class}Opened`: see `Names.placeholders`; `$$` is a `$`), and lines
kept only with `--saga` between a line `#% if saga` and a line `#% endif`.
"""

import ast
import re
import textwrap
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from string import Template

from services.ops.scaffold.errors import ScaffoldError
from services.ops.scaffold.names import Names

TEMPLATES = Path(__file__).parent / "templates"
SUFFIX = ".tmpl"
SAGA_ONLY = {"services/contexts/NAME/saga.py"}  # written only with --saga
IF_SAGA, END_IF = "#% if saga", "#% endif"
LINE_LIMIT = 110  # ruff's line-length (pyproject.toml)
PROSE_WIDTH = 96  # where prose is wrapped again when long names made a line too long
COMMENT = re.compile(r"^(\s*)# ?(.*)$")
Span = tuple[int, int, Callable[[list[str]], list[str]]]  # lines [start, end) and how to wrap them


def templates() -> list[str]:
    """Every template, by the path it renders to (with NAME for the context's name)."""
    return sorted(
        path.relative_to(TEMPLATES).as_posix()[: -len(SUFFIX)] for path in TEMPLATES.rglob(f"*{SUFFIX}")
    )


def render_all(names: Names) -> dict[str, str]:
    """The new files, by path relative to the repository's root."""
    rendered = {}
    for target in templates():
        if target in SAGA_ONLY and not names.saga:
            continue
        text = (TEMPLATES / f"{target}{SUFFIX}").read_text(encoding="utf-8")
        rendered[target.replace("NAME", names.name)] = render(text, names)
    return rendered


def render(text: str, names: Names) -> str:
    return reflow(Template(select(text, names.saga)).substitute(names.placeholders()))


def select(text: str, saga: bool) -> str:
    """The lines of `text` that `saga` keeps, without the `#% if saga`/`#% endif` lines."""
    kept, inside = [], False
    for line in text.splitlines(keepends=True):
        marker = line.strip()
        if marker == IF_SAGA:
            inside = True
        elif marker == END_IF:
            inside = False
        elif saga or not inside:
            kept.append(line)
    return "".join(kept)


def check_module(path: str, text: str) -> None:
    """Raise `ScaffoldError` if `text` is not Python, or binds a name twice at its top (a
    class named like one it imports): then the names given clash with the code around them."""
    try:
        tree = ast.parse(text, filename=path)
        compile(tree, path, "exec")
    except SyntaxError as error:
        raise ScaffoldError(f"{path} would not be valid Python (line {error.lineno}): {error.msg}") from None
    bound: Counter[str] = Counter()
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            bound.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound[node.name] += 1
    twice = sorted(name for name, times in bound.items() if times > 1)
    if twice:
        raise ScaffoldError(f"{path} would bind {twice[0]!r} twice: choose other names")


def reflow(text: str) -> str:
    """`text` with each docstring and block of comments that long names pushed past the line
    limit wrapped again; everything else, and any text short enough, as it was."""
    lines = text.splitlines(keepends=True)
    if all(len(line.rstrip("\n")) <= LINE_LIMIT for line in lines):
        return text
    try:
        tree = ast.parse(text)
    except SyntaxError:  # `check_module` says where
        return text
    spans = sorted(_docstrings(tree) + _comment_blocks(lines), key=lambda span: span[0], reverse=True)
    for start, end, wrap in spans:  # 0-based, end exclusive; from the last, so indices hold
        block = lines[start:end]
        if any(len(line.rstrip("\n")) > LINE_LIMIT for line in block):
            lines[start:end] = wrap(block)
    return "".join(lines)


def _docstrings(tree: ast.Module) -> list[Span]:
    nodes: list[ast.AST] = [
        tree,
        *(n for n in ast.walk(tree) if isinstance(n, ast.ClassDef | ast.FunctionDef)),
    ]
    spans: list[Span] = []
    for node in nodes:
        body = getattr(node, "body", [])
        first = body[0] if body else None
        if (
            isinstance(first, ast.Expr)
            and isinstance(first.value, ast.Constant)
            and isinstance(first.value.value, str)
        ):
            assert first.end_lineno is not None
            spans.append((first.lineno - 1, first.end_lineno, _wrap_docstring))
    return spans


def _comment_blocks(lines: list[str]) -> list[Span]:
    spans: list[Span] = []
    start: int | None = None
    for index, line in enumerate([*lines, ""]):
        if COMMENT.match(line) and (start is None or _indent(line) == _indent(lines[start])):
            start = index if start is None else start
            continue
        if start is not None:
            spans.append((start, index, _wrap_comments))
        start = index if COMMENT.match(line) else None
    return spans


def _wrap_docstring(block: list[str]) -> list[str]:
    """A docstring's paragraphs wrapped again; an indented paragraph (a diagram) kept."""
    indent = _indent(block[0])
    body = "".join(block).strip()
    quote = body[:3]
    inner = body[3:-3]
    paragraphs = re.split(r"\n\s*\n", inner)
    wrapped = []
    for number, paragraph in enumerate(paragraphs):
        first = indent + quote if number == 0 else indent
        kept = paragraph.rstrip().split("\n")
        if number and all(line.startswith(indent + "    ") for line in kept if line.strip()):
            wrapped.append("\n".join(line.rstrip() for line in kept))
            continue
        words = " ".join(line.strip() for line in kept)
        wrapped.append(textwrap.fill(words, PROSE_WIDTH, initial_indent=first, subsequent_indent=indent))
    text = "\n\n".join(wrapped)
    closing = f"\n{indent}{quote}" if inner.rstrip(" ").endswith("\n") else quote  # as it was
    return [line + "\n" for line in (text + closing).split("\n")]


def _wrap_comments(block: list[str]) -> list[str]:
    indent = _indent(block[0])
    words = " ".join(match.group(2) for line in block if (match := COMMENT.match(line)))
    prefix = f"{indent}# "
    return [
        line + "\n"
        for line in textwrap.wrap(words, PROSE_WIDTH, initial_indent=prefix, subsequent_indent=prefix)
    ]


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]
