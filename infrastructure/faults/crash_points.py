"""Named crash points: a test facility for killing a process between two chosen steps.

A process started with ORDERS_CRASH_POINTS=relay.after_send (a comma-separated list) exits
at once with CRASH_EXIT_CODE when it reaches `crash_point("relay.after_send")`: no cleanup,
no flushing, as if killed with SIGKILL at that line; one line on stderr names the point.
Tests arm points through the environment of a child process and check that a restart
converges (the scenarios of docs/FAILURE-MODES.md).

A supervisor restarts a crashed child with the same environment, so a plain point would kill
it again at the same line, forever. `NAME@once` fires once across restarts: the first process
to reach the point creates the marker file ORDERS_CRASH_DIR/NAME (O_CREAT | O_EXCL, so of
several processes exactly one wins) and exits; every later arrival finds the marker and goes
on. The marker is also a test's evidence that the crash happened.

The points, where each sits, and what is durable when it fires:

  api.after_claim               services/api/idempotency.py: the Idempotency-Key's scope is
                                claimed; the command has not run
  api.after_commit              services/api/idempotency.py: the command's events and its
                                command-log row are committed; the response is neither kept
                                nor sent
  gateway.after_call            services/gateway.py: the payment provider or the carrier
                                answered a call; nothing of the answer is saved
  saga.after_compensation_step  services/saga/saga.py: a step of a stopped order's
                                compensation succeeded (the stock released, say); what
                                follows it (recording it on the order) has not run
  consumer.before_offset_commit infrastructure/concurrent_consumer.py: the records up to the
                                offsets about to be committed are handled and durable (the
                                saga's consumer); the offsets are not committed
  gateway.after_response        infrastructure/gateways/retrying.py: the provider or the
                                carrier answered over HTTP; the client has not returned it
  relay.after_send              infrastructure/relay/relay.py: the broker acked a batch; the
                                relay's position is not saved
  projector.mid_batch           projections/runner.py: a polled batch is applied inside its
                                open transaction; nothing of it is committed
  projector.after_db_commit     projections/runner.py: a batch's read-model changes are
                                committed; its Kafka offsets are not

This is the one module besides `infrastructure/settings.py` that reads the environment: it
is not configuration but fault injection, read once at import so that an unarmed point
costs one dict lookup. For the same reason it is the one module of infrastructure/ that any
module of services/ may import (tests/unit/test_layering.py): until a point fires, it does
nothing at all.
"""

import os

CRASH_EXIT_CODE = 86
ONCE = "@once"


def _armed(spec: str, crash_dir: str) -> dict[str, bool]:
    """ORDERS_CRASH_POINTS as {point: fires only once}. A mistake in it is refused in one line
    when the module loads, rather than a test waiting for a crash that cannot come."""
    armed: dict[str, bool] = {}
    for entry in filter(None, (part.strip() for part in spec.split(","))):
        name = entry.removesuffix(ONCE)
        if "@" in name:
            raise SystemExit(f"ORDERS_CRASH_POINTS: {entry!r}: the only mode is {ONCE}")
        armed[name] = entry.endswith(ONCE)
    if any(armed.values()) and not os.path.isdir(crash_dir):
        raise SystemExit(
            f"ORDERS_CRASH_POINTS: a point armed {ONCE} needs ORDERS_CRASH_DIR, an existing directory"
            f" for its marker file (got {crash_dir!r})"
        )
    return armed


CRASH_DIR = os.environ.get("ORDERS_CRASH_DIR", "")
ARMED = _armed(os.environ.get("ORDERS_CRASH_POINTS", ""), CRASH_DIR)


def crash_point(name: str) -> None:
    """Exit the process here, immediately, if `name` is armed (armed once: if no process has
    fired it yet)."""
    once = ARMED.get(name)
    if once is None or (once and not _first_to_reach(name)):
        return
    os.write(2, f"crash point {name}: exiting with {CRASH_EXIT_CODE}\n".encode())
    os._exit(CRASH_EXIT_CODE)


def _first_to_reach(name: str) -> bool:
    try:
        os.close(os.open(os.path.join(CRASH_DIR, name), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    return True
