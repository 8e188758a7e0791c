"""A user-space TCP proxy on loopback that can lose a connection at a chosen moment.

`tc netem` is not available here, so faults between a process and its server are made by
putting this proxy in between. `cut_after(marker)` arms a one-shot fault: the next client
chunk containing `marker` is delivered to the server and then both sides are closed before
any reply travels back. With marker b"COMMIT" the transaction commits on the server while
the client sees a lost connection: the ambiguous commit.
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
        self.cuts = 0
        self._closed = False

    def __enter__(self) -> Self:
        threading.Thread(target=self._accept_loop, name="tcp-proxy", daemon=True).start()
        return self

    def __exit__(self, *_: object) -> None:
        self._closed = True
        self._listener.close()

    def cut_after(self, marker: bytes) -> None:
        """Arm a one-shot cut after the next client chunk that contains `marker`."""
        with self._lock:
            self._marker = marker

    def _accept_loop(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            for src, dst, upstream in ((client, server, True), (server, client, False)):
                threading.Thread(target=self._pump, args=(src, dst, upstream), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, upstream: bool) -> None:
        with contextlib.suppress(OSError):
            while chunk := src.recv(65536):
                dst.sendall(chunk)
                if upstream and self._should_cut(chunk):
                    break
        for sock in (src, dst):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _should_cut(self, chunk: bytes) -> bool:
        with self._lock:
            if self._marker is None or self._marker not in chunk:
                return False
            self._marker = None
            self.cuts += 1
            return True
