"""Wake the relay when its context commits events: LISTEN, with polling as the fallback.

The recorder sends NOTIFY on the context's channel in every transaction that inserts events.
A notification is only a hint to read now; the relay always reads by position, so a missed
notification (connection lost, channel shared with another schema's table) costs at most
one polling interval, never an event.
"""

import logging
import threading
import time
from typing import Any

import psycopg
from psycopg import sql

from infrastructure.database import connect
from infrastructure.settings import Settings

log = logging.getLogger(__name__)

# Longest single wait, so that a stop request is noticed promptly.
SLICE_S = 0.25


class Wakeup:
    def __init__(self, settings: Settings, channel: str, stop: threading.Event) -> None:
        self.settings = settings
        self.channel = channel
        self.stop = stop
        self.reconnects = 0
        self._conn: psycopg.Connection[Any] | None = None

    def listen(self) -> None:
        """Subscribe now, before the relay reads, so a commit between its read and its wait
        still wakes it. A failure is logged and retried on the next wait."""
        try:
            self._connection()
        except psycopg.Error as error:
            self._lost(error)

    def wait(self, timeout_s: float) -> bool:
        """Block until a notification arrives (True), `timeout_s` passes or stop is set (False)."""
        deadline = time.monotonic() + timeout_s
        while not self.stop.is_set() and (remaining := deadline - time.monotonic()) > 0:
            try:
                if self._notified(self._connection(), min(remaining, SLICE_S)):
                    return True
            except psycopg.Error as error:
                self._lost(error)
                self.stop.wait(min(remaining, SLICE_S))
        return False

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    @staticmethod
    def _notified(conn: psycopg.Connection[Any], timeout_s: float) -> bool:
        if not any(True for _ in conn.notifies(timeout=timeout_s, stop_after=1)):
            return False
        for _ in conn.notifies(timeout=0):  # drain: one read answers every queued hint
            pass
        return True

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None:
            conn = connect(self.settings, autocommit=True)
            conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
            self._conn = conn
        return self._conn

    def _lost(self, error: psycopg.Error) -> None:
        """Drop the connection; the next wait subscribes again on a fresh one."""
        if self._conn is not None:
            log.warning("LISTEN %s: connection lost (%s); subscribing again", self.channel, error)
            self.reconnects += 1
        self.close()
