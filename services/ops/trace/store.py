"""One order's records as PostgreSQL holds them: its events in every context, the command-log
rows of the commands about it, its calls and their attempts, its webhooks and its deadlines.

Every record is a row, found by what the system itself writes into it:

- events: the order's (by its id), its payment's and its shipment's (their ids derive from
  the order's, `domain/ids.py`), and those of its stock items that name it (`order_id`);
- commands: the ones its events carry, and the ones the saga issues about it, whose ids
  derive from their cause (`domain/ids.py:caused_command_id`: an event, the order's stop for
  a compensation, a deadline); a command the log refused left no event and is found so;
- calls, by the commands that decided them; attempts and the answers' commands by the
  calls' keys; deadlines and the provider's webhooks by the order's id.

An event is published once its context's relay has saved a position at or past it.

A stock item lives as long as the shop, so its history is not read whole: only the stretch
in which the order's inventory commands were recorded, give or take `CLOCK_SKEW` (what the
database's clock and the saga's may differ by), found by bisecting the item's versions on
their timestamps.
"""

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, NamedTuple
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from psycopg import Connection, sql

from domain.ids import caused_command_id, payment_id, shipment_id, stock_item_id
from domain.orders import Order
from domain.ports import Deadline as DeadlineKey
from infrastructure.calls.attempts import recorded_attempts
from services.bootstrap import System
from services.ops.check.store import exists, relay_positions
from services.ops.trace.records import Call, Command, Deadline, Event, Records, Webhook
from services.saga.compensation import compensation_id

CLOCK_SKEW = timedelta(minutes=1)
PAGE = 200  # stock events decoded per query
DETAIL = ("step", "reason", "sku", "quantity", "tracking_id")  # event fields that explain the flow
STOPS = (Order.Cancelled.TOPIC, Order.Failed.TOPIC)


class _Row(NamedTuple):
    """A row of a context's command log."""

    context: str
    command_id: str
    type: str
    outcome: Mapping[str, Any]
    recorded_at: datetime


class _Cause(NamedTuple):
    """What a command id derives from (or its events name), and the role the saga gave it."""

    causation_id: str
    correlation_id: str
    role: str = ""


class OrderReader:
    def __init__(self, system: System, conn: Connection[Any]) -> None:
        self.system = system
        self.conn = conn
        self.positions = relay_positions(conn)

    def read(self, order_id: UUID) -> Records | None:
        """Everything about the order, or None if no order has that id."""
        placed = self._events("orders", order_id)
        if not placed:
            return None
        order: Order = self.system.orders.repository.get(order_id, version=placed[-1].version)
        payment = self._events("payments", payment_id(order_id))
        shipment = self._events("fulfillment", shipment_id(order_id))
        deadlines = self._deadlines(order_id)
        causes = self._causes(order_id, [*placed, *payment, *shipment], deadlines)
        rows = self._rows(causes)
        inventory = [row for row in rows.values() if row.context == "inventory" and "result" in row.outcome]
        events = [*placed, *self._stock_events(order, inventory), *payment, *shipment]
        calls = self._calls(rows.values())
        answers = {f"answer:{call.call_id}": _Cause(call.call_id, call.correlation_id) for call in calls}
        rows |= self._rows(key for key in answers if key not in rows)
        return Records(
            order_id=order_id,
            status=str(order.status),
            tenant_id=order.tenant_id,
            events=tuple(events),
            commands=tuple(_commands(rows.values(), events, causes | answers)),
            calls=tuple(calls),
            attempts=tuple(recorded_attempts(self.conn, [call.call_id for call in calls])),
            webhooks=tuple(self._webhooks(order_id)),
            deadlines=tuple(deadlines),
        )

    def _causes(self, order_id: UUID, events: list[Event], deadlines: list[Deadline]) -> dict[str, _Cause]:
        """Every command id the order's events carry or the saga may have issued about the
        order, and what it derives from."""
        kinds = [kind.__name__ for app in self.system.contexts for kind in app.handlers()]
        causes = {event.command_id: _Cause(event.causation_id, event.correlation_id) for event in events}
        causes |= {
            caused_command_id(event.event_id, kind): _Cause(event.event_id, event.correlation_id)
            for event in events
            for kind in kinds
        }
        for deadline in deadlines:
            for kind in kinds:
                causes[caused_command_id(deadline.key, kind)] = _Cause(
                    deadline.key, deadline.correlation_id, f"deadline {deadline.name}"
                )
        stop = next((event for event in events if event.type in STOPS), None)
        if stop is not None:
            for undo in self.system.registry.undo:
                cause = _Cause(stop.event_id, stop.correlation_id, f"undo {undo.step}")
                causes[compensation_id(order_id, undo.step)] = cause
                causes[compensation_id(order_id, f"record:{undo.step}")] = cause._replace(
                    role=f"{undo.step} recorded"
                )
        return causes

    def _rows(self, command_ids: Iterable[str]) -> dict[str, _Row]:
        """The command-log rows of these ids, in whichever context's log holds them."""
        wanted, found = list(command_ids), {}
        for name, app in self.system.apps.items():
            recorder: Any = app.recorder
            query = sql.SQL(
                "SELECT command_id, command_type, outcome, recorded_at FROM {} WHERE command_id = ANY(%s)"
            ).format(sql.Identifier(recorder.commands_table_name))
            for row in self.conn.execute(query, (wanted,)).fetchall():
                found[row[0]] = _Row(name, *row)
        return found

    def _events(
        self, context: str, aggregate_id: UUID, after: int = 0, limit: int | None = None
    ) -> list[Event]:
        return [self._event(context, *stored) for stored in self._stored(context, aggregate_id, after, limit)]

    def _stored(
        self, context: str, aggregate_id: UUID, after: int, limit: int | None
    ) -> list[tuple[Any, int]]:
        """An aggregate's events after version `after`, decoded, each with its notification id."""
        app = self.system.app(context)
        recorder: Any = app.recorder
        query = sql.SQL(
            "SELECT originator_id, originator_version, topic, state, notification_id FROM {}"
            " WHERE originator_id = %s AND originator_version > %s ORDER BY originator_version LIMIT %s"
        ).format(sql.Identifier(recorder.events_table_name))
        rows = self.conn.execute(query, (aggregate_id, after, limit)).fetchall()
        return [(app.mapper.to_domain_event(StoredEvent(*row[:4])), row[4]) for row in rows]

    def _event(self, context: str, event: Any, notification_id: int) -> Event:
        return Event(
            context=context,
            aggregate_id=str(event.originator_id),
            version=event.originator_version,
            type=type(event).TOPIC,
            command_id=event.command_id,
            correlation_id=event.correlation_id,
            causation_id=event.causation_id,
            occurred_at=event.timestamp,
            published=notification_id <= self.positions.get(context, 0),
            detail={name: getattr(event, name) for name in DETAIL if hasattr(event, name)},
        )

    def _stock_events(self, order: Order, inventory: list[_Row]) -> list[Event]:
        """The order's events on its stock items, from the stretch of each item's history in
        which its inventory commands were recorded."""
        if not inventory:
            return []
        since = min(row.recorded_at for row in inventory) - CLOCK_SKEW
        until = max(row.recorded_at for row in inventory) + CLOCK_SKEW
        found = []
        for sku in dict.fromkeys(line.sku for line in order.lines):
            item = stock_item_id(sku, order.tenant_id)
            after = self.first_version_at(item, since) - 1
            while page := self._stored("inventory", item, after, PAGE):
                found += [
                    self._event("inventory", event, notification_id)
                    for event, notification_id in page
                    if event.timestamp <= until and getattr(event, "order_id", None) == str(order.id)
                ]
                if page[-1][0].timestamp > until:
                    break
                after = page[-1][0].originator_version
        return found

    def first_version_at(self, item: UUID, since: datetime) -> int:
        """The first version of a stock item that happened at or after `since` (one past its
        last if none did): a bisection on the versions' timestamps, one event read per step."""
        recorder: Any = self.system.inventory.recorder
        query = sql.SQL("SELECT coalesce(max(originator_version), 0) FROM {} WHERE originator_id = %s")
        row = self.conn.execute(query.format(sql.Identifier(recorder.events_table_name)), (item,)).fetchone()
        low, high = 1, (row[0] if row else 0) + 1
        while low < high:
            middle = (low + high) // 2
            [(event, _)] = self._stored("inventory", item, middle - 1, 1)
            low, high = (middle + 1, high) if event.timestamp < since else (low, middle)
        return low

    def _calls(self, rows: Iterable[_Row]) -> list[Call]:
        """The calls the order's commands decided, in each calling context's table."""
        calls = []
        for context in self.system.registry.calling:
            recorder: Any = self.system.app(context.name).recorder
            deciding = [row.command_id for row in rows if row.context == context.name]
            for found in self.conn.execute(recorder.call_table.decided_by, (deciding,)).fetchall():
                calls.append(Call(context.name, *found))
        return calls

    def _deadlines(self, order_id: UUID) -> list[Deadline]:
        if not exists(self.conn, "saga_deadlines"):
            return []
        query = "SELECT kind, due_at, fired_at, correlation_id FROM saga_deadlines WHERE order_id = %s"
        return [
            Deadline(kind, due_at, fired_at, correlation, DeadlineKey(order_id, kind, due_at).key)
            for kind, due_at, fired_at, correlation in self.conn.execute(query, (order_id,)).fetchall()
        ]

    def _webhooks(self, order_id: UUID) -> list[Webhook]:
        if not exists(self.conn, "psp_webhooks"):
            return []
        query = (
            "SELECT event_id, type, idempotency_key, reference, received_at FROM psp_webhooks"
            " WHERE order_id = %s ORDER BY received_at"
        )
        return [Webhook(*row) for row in self.conn.execute(query, (str(order_id),)).fetchall()]


def _commands(rows: Iterable[_Row], events: list[Event], causes: Mapping[str, _Cause]) -> list[Command]:
    """Each row as a command: its cause and flow as its first event names them, or as its id
    derives from them when it made no event."""
    first_event: dict[str, Event] = {}
    for event in events:
        first_event.setdefault(event.command_id, event)
    commands = []
    for row in rows:
        derived = causes.get(row.command_id, _Cause("", ""))
        made = first_event.get(row.command_id)
        causation, correlation = (made.causation_id, made.correlation_id) if made else derived[:2]
        commands.append(
            Command(row.context, row.command_id, row.type, row.recorded_at, _outcome(row.outcome),
                    causation, correlation, derived.role)
        )  # fmt: skip
    return commands


def _outcome(outcome: Mapping[str, Any]) -> str:
    error = outcome.get("error")
    return f"refused: {error.get('code', '?')}" if isinstance(error, Mapping) else "ok"
