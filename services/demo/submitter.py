"""Sends each command more than once and checks that every copy got the same answer."""

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from domain.commands import Command
from domain.errors import DomainError
from services.application import IdempotentApplication

Answer = tuple[str, Any]  # ("ok", result) or ("error", code)


class DivergentAnswerError(AssertionError):
    """Two copies of one command were answered differently: idempotence is broken."""


@dataclass
class Submitter:
    copies: int = 2
    concurrent_every: int = 3  # every Nth command sends its copies at the same time
    counts: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _serial: int = 0

    def submit(
        self, app: IdempotentApplication, command: Command, retry_on: tuple[type[BaseException], ...] = ()
    ) -> Answer:
        """Send `copies` copies of `command`; return the one answer they all got."""
        with self._lock:
            self._serial += 1
            concurrently = self._serial % self.concurrent_every == 0
        send: Callable[[int], Answer] = lambda _: self._send_once(app, command, retry_on)  # noqa: E731
        if concurrently:
            with ThreadPoolExecutor(self.copies) as pool:
                answers = list(pool.map(send, range(self.copies)))
        else:
            answers = [send(i) for i in range(self.copies)]
        if any(answer != answers[0] for answer in answers):
            raise DivergentAnswerError(f"{type(command).__name__} {command.command_id}: {answers}")
        return answers[0]

    def _send_once(
        self, app: IdempotentApplication, command: Command, retry_on: tuple[type[BaseException], ...]
    ) -> Answer:
        context = app.name.lower()
        while True:
            try:
                receipt = app.execute(command)
            except retry_on:
                self._count(context, "retried")
                continue
            except DomainError as error:
                self._count(context, "duplicates" if error.replayed else "refused")
                return ("error", error.code)
            self._count(context, "duplicates" if receipt.replayed else "applied")
            return ("ok", receipt.result)

    def _count(self, context: str, outcome: str) -> None:
        with self._lock:
            self.counts[f"{context}.{outcome}"] += 1
