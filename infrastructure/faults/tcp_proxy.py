"""A user-space TCP proxy on loopback that can lose a connection at a chosen moment.

`tc netem` is not available here, so faults between a process and its server are made by
putting this proxy in between. Two faults:

- `cut_after(marker)` arms a one-shot fault: the next client chunk containing `marker` is
  delivered to the server and then both sides are closed before any reply travels back.
  With marker b"COMMIT" the transaction commits on the server while the client sees a lost
  connection: the ambiguous commit.
- `cut()` partitions the two sides until `heal()`: every connection the proxy carries is
  closed and its port refuses new ones, so requests fail, reconnecting fails and nothing
  reaches the server. Refusing, rather than accepting and hanging up at once, matters: a
  client that sees its connection established resets its reconnect backoff and spins.
  `heal()` listens on the same port again.
"""

import contextlib
import socket
import threading
from typing import Self


class TcpProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._marker: bytes | None = None
        self._lock = threading.Lock()
        self._carried: set[socket.socket] = set()  # both ends of every open connection
        self._partitioned = False
        self.cuts = 0
        self._closed = False

    def __enter__(self) -> Self:
        self._accept_in_background(self._listener)
        return self

    def __exit__(self, *_: object) -> None:
        with self._lock:
            self._closed = True
            _close(self._listener)

    def cut_after(self, marker: bytes) -> None:
        """Arm a one-shot cut after the next client chunk that contains `marker`."""
        with self._lock:
            self._marker = marker

    def cut(self) -> None:
        """Close every connection and refuse new ones until `heal()`."""
        with self._lock:
            self._partitioned = True
            _close(self._listener)
            carried, self._carried = self._carried, set()
        for sock in carried:
            _close(sock)

    def heal(self) -> None:
        """Accept connections on the same port again."""
        with self._lock:
            if not self._partitioned or self._closed:
                return
            self._listener = socket.create_server(("127.0.0.1", self.port))
            self._partitioned = False
        self._accept_in_background(self._listener)

    def _accept_in_background(self, listener: socket.socket) -> None:
        threading.Thread(target=self._accept_loop, args=(listener,), name="tcp-proxy", daemon=True).start()

    def _accept_loop(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:  # closed: by a cut, or on the way out
                return
            self._carry(client)

    def _carry(self, client: socket.socket) -> None:
        """Connect `client` to the target and pump both ways."""
        try:
            server = socket.create_connection(self.target)
        except OSError:  # the server is down: so is the client's connection
            _close(client)
            return
        with self._lock:
            partitioned = self._partitioned  # cut while we connected
            if not partitioned:
                self._carried.update((client, server))
        if partitioned:
            _close(client)
            _close(server)
            return
        for src, dst, upstream in ((client, server, True), (server, client, False)):
            threading.Thread(target=self._pump, args=(src, dst, upstream), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, upstream: bool) -> None:
        with contextlib.suppress(OSError):
            while chunk := src.recv(65536):
                dst.sendall(chunk)
                if upstream and self._should_cut(chunk):
                    break
        with self._lock:
            self._carried.difference_update((src, dst))
        for sock in (src, dst):
            _close(sock)

    def _should_cut(self, chunk: bytes) -> bool:
        with self._lock:
            if self._marker is None or self._marker not in chunk:
                return False
            self._marker = None
            self.cuts += 1
            return True


def _close(sock: socket.socket) -> None:
    """Shut down, then close: a shutdown also wakes a thread blocked in `accept`, whose
    pending call would otherwise keep a listening socket open."""
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
