"""The order's causal chain: its records hung on each other by their ids, without I/O.

An event hangs under the command that made it; a command under its cause, the event (a
saga step), the call (an answer) or the deadline (a late order's failure) that its
`causation_id` names; a call under the command that decided it; attempts and webhooks under
the call whose key they carry. Whatever has no such parent among the records (the client's
own commands, a deadline) starts a branch under the request of its correlation id, which is
the request id the client sent. Every record appears exactly once: a record whose parent
was not read, or that only its own descendants name, goes under the request of its
correlation id, or of "" when it has none.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from infrastructure.calls.attempts import Attempt
from services.ops.trace.records import Call, Command, Deadline, Event, Record, Records, Request, Webhook


@dataclass(frozen=True)
class Node:
    record: Record
    children: tuple["Node", ...] = ()


@dataclass(frozen=True)
class Trace:
    order_id: UUID
    status: str
    tenant_id: str
    requests: tuple[Node, ...]  # each a Request, the earliest first
    events: tuple[Event, ...]  # every event of the order, by context, each aggregate's in version order


def build(records: Records) -> Trace:
    commands = {command.command_id: command for command in records.commands}
    events = {event.event_id: event for event in records.events}
    calls = {call.call_id: call for call in records.calls}
    deadlines = {deadline.key: deadline for deadline in records.deadlines}

    def cause(record: Record) -> Record | None:
        if isinstance(record, Event):
            return commands.get(record.command_id) or cause_named(record.causation_id)
        if isinstance(record, Command):
            return None if record.causation_id == record.command_id else cause_named(record.causation_id)
        if isinstance(record, Call):
            return commands.get(record.causation_id)
        if isinstance(record, Attempt):
            return calls.get(record.call_id)
        if isinstance(record, Webhook):
            return calls.get(record.idempotency_key)
        return None

    def cause_named(causation_id: str) -> Record | None:
        return events.get(causation_id) or calls.get(causation_id) or deadlines.get(causation_id)

    every: list[Record] = [
        *records.events, *records.commands, *records.calls, *records.attempts, *records.webhooks,
        *records.deadlines,
    ]  # fmt: skip
    parents = {id(record): cause(record) for record in every}
    children: dict[int, list[Record]] = defaultdict(list)
    for record in every:
        if (parent := parents[id(record)]) is not None:
            children[id(parent)].append(record)
    placed: set[int] = set()

    def node(record: Record) -> Node:
        placed.add(id(record))
        below = [child for child in children[id(record)] if id(child) not in placed]
        return Node(record, tuple(node(child) for child in _in_order(below)))

    branches: dict[str, list[Node]] = defaultdict(list)
    for record in _in_order(record for record in every if parents[id(record)] is None):
        branches[_correlation(record)].append(node(record))
    for record in _in_order(every):  # only a cycle of causes leaves records unplaced
        if id(record) not in placed:
            branches[_correlation(record)].append(node(record))
    requests = [Node(Request(correlation), tuple(nodes)) for correlation, nodes in branches.items()]
    requests.sort(
        key=lambda request: (request.record == Request(""), min(_at(n.record) for n in request.children))
    )
    return Trace(records.order_id, records.status, records.tenant_id, tuple(requests), records.events)


def _in_order(records: Iterable[Record]) -> list[Record]:
    """A command's events before its calls, a request's deadline last; otherwise by time, so
    that a webhook sent while an attempt's answer was lost shows between the attempts."""
    return sorted(records, key=lambda record: (_RANK[type(record)], _at(record), _tiebreak(record)))


_RANK: dict[type, int] = {Event: 0, Command: 1, Call: 1, Attempt: 1, Webhook: 1, Deadline: 2}


def _at(record: Record) -> datetime:
    match record:
        case Event():
            return record.occurred_at
        case Command():
            return record.recorded_at
        case Call():
            return record.created_at
        case Attempt():
            return record.started_at
        case Webhook():
            return record.received_at
        case Deadline():
            return record.due_at
    raise TypeError(f"no time for {record!r}")


def _tiebreak(record: Record) -> str:
    match record:
        case Event():
            return f"{record.context}:{record.aggregate_id}:{record.version:09d}"
        case Attempt():
            return f"{record.number:09d}"
    return ""


def _correlation(record: Record) -> str:
    match record:
        case Event() | Command() | Call() | Deadline():
            return record.correlation_id
    return ""
