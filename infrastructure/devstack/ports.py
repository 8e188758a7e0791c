"""Pick TCP ports on the loopback interface for the dev-stack servers."""

import socket
from collections.abc import Collection

LOOPBACK = "127.0.0.1"


def free_port(avoid: Collection[int] = ()) -> int:
    """A port nothing listens on now, so stacks never collide on fixed well-known ports."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind((LOOPBACK, 0))
            port: int = probe.getsockname()[1]
        if port not in avoid:
            return port


def port_is_free(port: int) -> bool:
    """True if a server could bind `port`; lets a restarted stack keep the URLs it handed out."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


def accepts_connections(port: int) -> bool:
    """True if something listens on `port`."""
    try:
        socket.create_connection((LOOPBACK, port), timeout=0.5).close()
    except OSError:
        return False
    return True
