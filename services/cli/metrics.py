"""Where a process other than the API serves its metrics: `GET /metrics` on
ORDERS_METRICS_PORT (default 9100; 0: not served), from a thread of its own, with every
family of infrastructure/metrics.py. The API serves the same on its own port.

A port already taken is said on stderr and the process goes on without serving them: two
processes started by hand with the default port would otherwise not both run. `orders run`
gives each child a port of its own (services/cli/run.py).
"""

import sys

from infrastructure.metrics import METRICS
from infrastructure.settings import Settings


def expose(process: str, settings: Settings) -> None:
    """Serve this process's metrics on the settings' port, and say where (or why not)."""
    port = settings.metrics_port
    if not port:
        return
    try:
        METRICS.serve(port)
    except OSError as error:
        print(
            f"{process}: metrics not served: port {port}: {error.strerror or error}"
            " (set ORDERS_METRICS_PORT to a free port, or 0)",
            file=sys.stderr,
            flush=True,
        )
        return
    print(f"{process}: metrics on http://127.0.0.1:{port}/metrics", flush=True)
