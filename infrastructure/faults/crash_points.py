"""Named crash points: a test facility for killing a process between two chosen steps.

A process started with ORDERS_CRASH_POINTS=relay.after_send (a comma-separated list) exits
at once with CRASH_EXIT_CODE when it reaches `crash_point("relay.after_send")`: no cleanup,
no flushing, as if killed with SIGKILL at that line. Tests arm points through the
environment of a child process and check that a restart converges (RELIABILITY.md).

This is the one module besides `infrastructure/settings.py` that reads the environment: it
is not configuration but fault injection, read once at import so that an unarmed point
costs one frozenset lookup.
"""

import os

CRASH_EXIT_CODE = 86
ARMED = frozenset(filter(None, os.environ.get("ORDERS_CRASH_POINTS", "").split(",")))


def crash_point(name: str) -> None:
    """Exit the process here, immediately, if `name` is armed."""
    if name in ARMED:
        os._exit(CRASH_EXIT_CODE)
