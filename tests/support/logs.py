"""The process's logging as `infrastructure.logs.configure` sets it up, into a buffer a test
reads, and put back as it was afterwards."""

import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import structlog

from infrastructure import logs


class Lines:
    """The JSON lines written so far."""

    def __init__(self, buffer: io.StringIO) -> None:
        self.buffer = buffer

    def __call__(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.buffer.getvalue().splitlines()]

    def saying(self, text: str) -> list[dict[str, Any]]:
        """The lines whose message contains `text`."""
        return [line for line in self() if text in line["message"]]


@contextmanager
def captured(process: str = "test") -> Iterator[Lines]:
    """`configure(process)` writing into a buffer, for the block."""
    buffer = io.StringIO()  # not a terminal: JSON lines
    with restored():
        logs.configure(process, buffer)
        yield Lines(buffer)


@contextmanager
def restored() -> Iterator[None]:
    """The logging as it is now, back after the block, whatever the block configured."""
    root = logging.getLogger()
    handlers, level, config = root.handlers[:], root.level, structlog.get_config()
    levels = {name: logging.getLogger(name).level for name in logs.QUIETER}
    try:
        yield
    finally:
        root.handlers, root.level = handlers, level
        structlog.configure(**config)
        for name, quieter in levels.items():
            logging.getLogger(name).setLevel(quieter)
