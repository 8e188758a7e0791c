"""The outbox relay of one context: its notification log, published to `<context>.events`.

The notification log is the outbox: events and their notification ids commit in the same
transaction as the command that caused them, and ids become visible in commit order (the
recorder's table lock), so reading "after my position" never skips an event.

One step of the active relay: read the next batch after the stored position, renew the
lead (a deposed relay stops before sending), send the batch and wait for every ack, and
only then save the new position (fenced by the epoch). A crash or a failed send between
the send and the save republishes the batch: duplicates on Kafka, which consumers dedupe
by event id, but never a lost event. A broker that loses records after acking them (a
restart of the in-memory local broker) sends the relay back to position 0 (`audit`).
"""

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import psycopg
from eventsourcing.persistence import Notification, PersistenceError
from kafka.errors import KafkaError

from infrastructure.contracts import to_integration_event
from infrastructure.faults.crash_points import crash_point
from infrastructure.relay.audit import BrokerAudit, merged, regressed
from infrastructure.relay.leadership import Leadership, LeadershipLostError
from infrastructure.relay.options import RelayOptions, check_lease
from infrastructure.relay.publisher import Publisher, PublishError
from infrastructure.relay.wakeup import Wakeup
from infrastructure.settings import Settings

log = logging.getLogger(__name__)


class NotificationLog(Protocol):
    """What the relay needs of a context's application recorder."""

    channel_name: str

    def select_notifications(self, start: int | None, limit: int) -> Sequence[Notification]: ...

    def max_notification_id(self) -> int | None: ...


class Relay:
    def __init__(
        self,
        recorder: NotificationLog,
        to_domain_event: Callable[[Notification], Any],
        context: str,
        settings: Settings,
        options: RelayOptions | None = None,
    ) -> None:
        self.recorder = recorder
        self.to_domain_event = to_domain_event
        self.context = context
        self.settings = settings
        self.options = options or RelayOptions()
        holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.leadership = Leadership(settings, context, holder, self.options.lease_s)
        self.publisher = Publisher(settings, settings.topic(context), client_id=f"relay-{context}")
        self.audit = BrokerAudit(settings, settings.topic(context), client_id=f"relay-audit-{context}")
        self.failed_attempts = 0
        self.restarts = 0  # how often the broker was found to have lost published events
        self._failures_in_a_row = 0
        self._audit_due = 0.0
        check_lease(self.options, self.publisher.ack_timeout_s)

    @property
    def position(self) -> int:
        """The last notification id known to be acked by the broker."""
        return self.leadership.position

    @property
    def is_leader(self) -> bool:
        return self.leadership.is_leader

    def lag(self) -> int:
        """Stored events not yet published (as far as this relay knows)."""
        return (self.recorder.max_notification_id() or 0) - self.position

    def run(self, stop: threading.Event) -> None:
        """Lead or stand by until `stop` is set; unexpected errors propagate, after cleanup."""
        wakeup = Wakeup(self.settings, self.recorder.channel_name, stop)
        try:
            while not stop.is_set():
                if self.leadership.is_leader:
                    self._lead(stop, wakeup)
                elif self.leadership.try_acquire():
                    self._audit_due = 0.0  # check the broker before the first send of a new lead
                    self._lead(stop, wakeup)
                else:
                    stop.wait(self.options.standby_retry_s)
        finally:
            wakeup.close()
            self.leadership.step_down()
            self.publisher.close()

    def publish_batch(self) -> int:
        """Publish the events after the stored position; returns how many (0: caught up)."""
        notifications = self.recorder.select_notifications(
            start=self.position + 1, limit=self.options.batch_size
        )
        if not notifications:
            return 0
        events = [to_integration_event(self.context, self.to_domain_event(n), n.id) for n in notifications]
        self.leadership.renew()
        acked = self.publisher.publish(events)
        crash_point("relay.after_send")
        if started_over := regressed(self.leadership.acked, acked):
            self._start_over(f"{self.publisher.topic} partitions {started_over} acked offsets already used")
        else:
            self.leadership.save(notifications[-1].id, merged(self.leadership.acked, acked))
        self._failures_in_a_row = 0
        return len(events)

    def _lead(self, stop: threading.Event, wakeup: Wakeup) -> None:
        wakeup.listen()
        try:
            while not stop.is_set():
                if time.monotonic() >= self._audit_due:
                    self._audit()
                published = self.publish_batch()
                if published == 0:
                    self._idle(wakeup)
                elif published < self.options.batch_size:
                    stop.wait(self.options.linger_s)
        except LeadershipLostError as error:
            log.warning("%s; standing by", error)
        except (PublishError, PersistenceError, psycopg.Error, KafkaError) as error:
            self.failed_attempts += 1
            self._failures_in_a_row += 1
            log.warning("%s relay: %s; retrying from position %s", self.context, error, self.position)
            stop.wait(self._backoff())

    def _audit(self) -> None:
        """Start over if the broker lost what it acked; the lease is renewed first, since the
        audit waits on the broker (each request within the Kafka request timeout)."""
        self.leadership.renew()
        reason = self.audit.lost(self.position, self.leadership.acked)
        if reason:
            self._start_over(reason)
        self._audit_due = time.monotonic() + self.options.audit_interval_s

    def _start_over(self, reason: str) -> None:
        """Position 0 and no offsets, fenced like any save: the whole log is published again."""
        self.restarts += 1
        log.warning(
            "%s relay: %s; publishing again from position 0 (was %s)", self.context, reason, self.position
        )
        self.leadership.save(0, {})

    def _idle(self, wakeup: Wakeup) -> None:
        """Caught up: keep the lease fresh and sleep until a NOTIFY or the poll interval."""
        until_heartbeat = self.leadership.renewed_at + self.options.heartbeat_interval_s - time.monotonic()
        if until_heartbeat <= 0:
            self.leadership.renew()
            until_heartbeat = self.options.heartbeat_interval_s
        wakeup.wait(min(self.options.poll_interval_s, until_heartbeat))

    def _backoff(self) -> float:
        return min(self.options.max_backoff_s, self.options.backoff_s * 2.0 ** (self._failures_in_a_row - 1))
