"""The call a context is putting to an outside party right now, for the clients that say so.

A port (`domain/ports.py`) asks in the other party's own terms: an amount, a card token, a
parcel, under an idempotency key. Which flow the call belongs to and which command decided
it are no part of that question, but a client that can carry them should: the HTTP clients
send them as headers and record each attempt under the call's key. Rather than widen every
port, and every fake implementing one, the context that asks names its call here for the
time of the question, the way tracing libraries carry their context: in a context variable,
so that each gateway worker thread sees only the call it is asking.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from domain.calls import Call

_ASKING: ContextVar[Call | None] = ContextVar("asking", default=None)


@contextmanager
def asking(call: Call) -> Iterator[Call]:
    """`call` is the one being asked until the block ends."""
    token = _ASKING.set(call)
    try:
        yield call
    finally:
        _ASKING.reset(token)


def call_being_asked() -> Call | None:
    """The call this thread is asking, or None outside `asking`."""
    return _ASKING.get()
