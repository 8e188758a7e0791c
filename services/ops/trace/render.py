"""A trace shown: as a rich tree for a person, as JSON for a script, the same records in both.

In the tree a command that made exactly one event shares its line with it ("AdvanceOrder ok
-> OrderPaymentAuthorized"), which halves the depth of a long chain; the JSON keeps every
node. Times in the tree count from the order's first event (its placement), in seconds; the
JSON has every time in full (ISO 8601, UTC).
"""

from dataclasses import asdict
from datetime import datetime
from typing import Any

from rich.markup import escape
from rich.tree import Tree

from infrastructure.calls.attempts import Attempt
from services.ops.trace.records import Call, Command, Deadline, Event, Record, Request, Webhook
from services.ops.trace.tree import Node, Trace

KINDS: dict[type, str] = {
    Request: "request", Command: "command", Event: "event", Call: "call", Attempt: "attempt",
    Webhook: "webhook", Deadline: "deadline",
}  # fmt: skip


def as_json(trace: Trace, database: str) -> dict[str, Any]:
    by_context: dict[str, list[dict[str, Any]]] = {}
    for event in trace.events:
        by_context.setdefault(event.context, []).append(_fields(event))
    return {
        "order_id": str(trace.order_id),
        "status": trace.status,
        "tenant_id": trace.tenant_id,
        "database": database,
        "requests": [_node(request) for request in trace.requests],
        "events_by_context": by_context,
    }


def as_tree(trace: Trace) -> Tree:
    start = min(event.occurred_at for event in trace.events)  # an order has at least its placement
    tenant = f" · tenant {escape(trace.tenant_id)}" if trace.tenant_id else ""
    placed = f"{start:%Y-%m-%d %H:%M:%S}.{start.microsecond // 1000:03d} UTC"
    root = Tree(f"[bold]order {trace.order_id}[/] · {escape(trace.status)}{tenant} · placed {placed}")
    for request in trace.requests:
        _add(root, request, start)
    events = root.add("[bold]events by context[/], each aggregate's by version (* not yet published)")
    for (context, aggregate), versions in _by_aggregate(trace.events).items():
        shown = ", ".join(f"{e.version} {_short(e.type)}{'' if e.published else ' *'}" for e in versions)
        events.add(f"{context} {aggregate}: {shown}")
    return root


def _node(node: Node) -> dict[str, Any]:
    return {
        "kind": KINDS[type(node.record)],
        **_fields(node.record),
        "children": [_node(c) for c in node.children],
    }


def _fields(record: Record) -> dict[str, Any]:
    fields = {name: value.isoformat() if isinstance(value, datetime) else value
              for name, value in asdict(record).items()}  # fmt: skip
    if isinstance(record, Event):
        fields["event_id"] = record.event_id
    return fields


def _add(parent: Tree, node: Node, start: datetime) -> None:
    record, children = node.record, node.children
    events = [child for child in children if isinstance(child.record, Event)]
    if isinstance(record, Command) and len(events) == 1:  # the command and its one event, one line
        [event] = events
        label = _label(record, start, event.record)
        children = tuple(child for child in children if child is not event) + event.children
    else:
        label = _label(record, start)
    branch = parent.add(label)
    for child in children:
        _add(branch, child, start)


def _label(record: Record, start: datetime, made: Record | None = None) -> str:
    match record:
        case Request(correlation_id=""):
            return "[bold]linked to no request[/] (no correlation id, and no cause that was read)"
        case Request():
            return f"[bold]request {escape(record.correlation_id)}[/] (correlation id)"
        case Command():
            role = f" [magenta]{escape(record.role)}[/]" if record.role else ""
            outcome = "[green]ok[/]" if record.outcome == "ok" else f"[red]{escape(record.outcome)}[/]"
            event = f" -> {_event(made)}" if isinstance(made, Event) else ""
            return (
                f"{_at(record.recorded_at, start)} [bold]{record.type}[/]{role} {outcome}"
                f" [dim]{record.context}[/]{event} [dim]command {escape(record.command_id)}[/]"
            )
        case Event():
            return f"{_event(record)} [dim]{record.context}[/]"
        case Call():
            open_error = record.last_error and record.state != "answered"
            error = f" [red]last error: {escape(record.last_error)}[/]" if open_error else ""
            claims = f"{record.attempts} {'claim' if record.attempts == 1 else 'claims'}"
            return (
                f"{_at(record.created_at, start)} [bold]call {record.operation}[/] {record.state}"
                f" after {claims} [dim]{record.context}[/] key [bold]{escape(record.call_id)}[/]{error}"
            )
        case Attempt():
            outcome = escape(record.outcome)
            shown = f"[green]{outcome}[/]" if record.outcome.startswith("ok") else f"[yellow]{outcome}[/]"
            return f"{_at(record.started_at, start)} attempt {record.number}: {shown}, {record.elapsed_ms} ms"
        case Webhook():
            return (
                f"{_at(record.received_at, start)} webhook {escape(record.type)}"
                f" [dim]event {escape(record.event_id)}, reference {escape(record.reference)}[/]"
            )
        case Deadline():
            fired = f"fired at {_at(record.fired_at, start)}" if record.fired_at else "not fired"
            return f"[bold]deadline {escape(record.name)}[/] due at {_at(record.due_at, start)}, {fired}"
    raise TypeError(f"nothing to show for {record!r}")


def _event(event: Event) -> str:
    detail = "".join(f" {name}={escape(str(value))}" for name, value in event.detail.items())
    published = "" if event.published else " [yellow]not yet published[/]"
    return f"[cyan]{_short(event.type)}[/] v{event.version}{detail}{published}"


def _at(moment: datetime, start: datetime) -> str:
    """Seconds since the order's first event."""
    return f"{(moment - start).total_seconds():+.3f}s"


def _short(topic: str) -> str:
    return topic.rsplit(".v", 1)[0]


def _by_aggregate(events: tuple[Event, ...]) -> dict[tuple[str, str], list[Event]]:
    grouped: dict[tuple[str, str], list[Event]] = {}
    for event in events:
        grouped.setdefault((event.context, event.aggregate_id), []).append(event)
    return grouped
