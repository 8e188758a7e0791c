"""Given past events, when a method is called, then exactly these new events, or a named error
and nothing new.

The aggregate is rebuilt from its events with `event.mutate`, as the repository rebuilds it,
so a test starts from the state a command handler would see.
"""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from uuid import uuid4

import pytest
from eventsourcing.domain import Aggregate

from domain.orders import ShippingAddress
from domain.tracing import Trace

Expected = tuple[type, dict[str, Any]]
ADDRESS = ShippingAddress(
    name="Ada Lovelace", line1="1 Main Street", city="Utrecht", postal_code="3511", country="NL"
)


def trace(name: str = "command") -> Trace:
    """A trace whose three ids differ, so a test can tell which one an event carries."""
    return Trace(command_id=name, correlation_id=f"{name}/correlation", causation_id=f"{name}/causation")


def traced_by(event: Any) -> Trace:
    return Trace(event.command_id, event.correlation_id, event.causation_id)


def unique(prefix: str) -> str:
    """A fresh id, so that no two tests share a command id, SKU or order."""
    return f"{prefix}-{uuid4().hex[:12]}"


def given(events: Sequence[Any]) -> Any:
    aggregate = None
    for event in events:
        aggregate = event.mutate(aggregate)
    assert isinstance(aggregate, Aggregate), "given() needs a history that starts with a created event"
    return aggregate


def event(event_class: type, **attributes: Any) -> Expected:
    """An expected new event: its class and the attributes that matter to the test."""
    return event_class, attributes


def then(aggregate: Aggregate, *expected: Expected) -> None:
    """Exactly these new events, in this order, with these attributes."""
    new = aggregate.collect_events()
    assert [type(e) for e in new] == [event_class for event_class, _ in expected]
    for each, (_, attributes) in zip(new, expected, strict=True):
        assert {name: getattr(each, name) for name in attributes} == attributes


def then_nothing_new(aggregate: Aggregate) -> None:
    then(aggregate)


@contextmanager
def refused(aggregate: Aggregate, error: type[Exception]) -> Iterator[None]:
    """The block raises `error` and the aggregate records nothing."""
    with pytest.raises(error):
        yield
    then_nothing_new(aggregate)
