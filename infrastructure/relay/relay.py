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
from infrastructure.metrics import METRICS, Metrics
from infrastructure.relay.audit import BrokerAudit, merged, regressed
from infrastructure.relay.leadership import Leadership, LeadershipLostError
from infrastructure.relay.options import RelayOptions, check_lease
from infrastructure.relay.publisher import Publisher, PublishError
from infrastructure.relay.wakeup import Wakeup
from infrastructure.settings import Settings

log = logging.getLogger(__name__)
LAG_EVERY_S = 1.0  # how often a leading relay measures its lag in events (a query)


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
        metrics: Metrics = METRICS,
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
        # Its lag, for the metrics: events not yet published, measured every LAG_EVERY_S while
        # leading, and the age of the oldest of them (when it was first read, whatever the
        # attempts that failed since), read at each scrape; both 0 while standing by.
        self._lag_events = metrics.relay_lag_events.labels(context=context)
        self._lag_measured_at = 0.0
        self._oldest_unpublished: float | None = None
        metrics.relay_lag_seconds.labels(context=context).set_function(self.lag_seconds)
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

    def lag_seconds(self) -> float:
        """How long the oldest event not yet published has waited; 0 when caught up."""
        oldest = self._oldest_unpublished
        return 0.0 if oldest is None else max(0.0, time.time() - oldest)

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
                    self._standing_by()
                    stop.wait(self.options.standby_retry_s)
        finally:
            self._standing_by()
            wakeup.close()
            self.leadership.step_down()
            self.publisher.close()

    def publish_batch(self) -> int:
        """Publish the events after the stored position; returns how many (0: caught up)."""
        notifications = self.recorder.select_notifications(
            start=self.position + 1, limit=self.options.batch_size
        )
        if not notifications:  # caught up
            self._oldest_unpublished = None
            self._lag_events.set(0)
            return 0
        events = [to_integration_event(self.context, self.to_domain_event(n), n.id) for n in notifications]
        self._oldest_unpublished = events[0].occurred_at.timestamp()
        self.leadership.renew()
        acked = self.publisher.publish(events)
        crash_point("relay.after_send")
        if started_over := regressed(self.leadership.acked, acked):
            self._start_over(f"{self.publisher.topic} partitions {started_over} acked offsets already used")
        else:
            self.leadership.save(notifications[-1].id, merged(self.leadership.acked, acked))
        self._failures_in_a_row = 0
        if len(events) < self.options.batch_size:  # all there was when it read: caught up then
            self._oldest_unpublished = None
            self._lag_events.set(0)
        return len(events)

    def _lead(self, stop: threading.Event, wakeup: Wakeup) -> None:
        wakeup.listen()
        try:
            while not stop.is_set():
                if time.monotonic() >= self._audit_due:
                    self._audit()
                self._measure_lag()
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

    def _measure_lag(self) -> None:
        if time.monotonic() - self._lag_measured_at >= LAG_EVERY_S:
            self._lag_events.set(self.lag())
            self._lag_measured_at = time.monotonic()

    def _standing_by(self) -> None:
        """Another relay publishes (or none, while this one stops): its lag is not this one's."""
        self._oldest_unpublished = None
        self._lag_events.set(0)

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
