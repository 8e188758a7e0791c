"""Consume with a pool of workers: the records of one key in order, different keys at once.

The poll loop never waits on a handler. It hands each record to the queue of its key (the
saga's key is the order id), and a pool of workers takes the keys in turn: a key is worked
on by one worker at a time, its records in arrival order, so one order's events stay in
order while other orders go ahead. A handler that raises holds back its key only: that
record is tried again after a backoff (`Lanes`), while the other keys carry on. While a worker
handles a record, the record's ids are bound to its log lines (`Delivery.trace_ids`).

Offsets are committed per partition up to the first record not yet handled (`Progress`),
never past one: a crash redelivers at most what was in flight, and the handler's
idempotence makes that harmless. While too many records are in flight, the partitions
are paused (and still polled) until the workers catch up. A topic that comes back
re-created (`Incarnations`) is read again from its beginning.

The consumer's partitions are assigned by hand (`kafka.static_consumer`): no group to join,
so no rebalance ever stops the flow, and a restarted process is consuming again within a
fraction of a second.
"""

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import CommitFailedError, KafkaError
from kafka.structs import OffsetAndMetadata

from infrastructure.consuming import ConsumerLag, Delivery, Incarnations
from infrastructure.faults.crash_points import crash_point
from infrastructure.lanes import Lanes
from infrastructure.logs import bound
from infrastructure.metrics import METRICS, Metrics
from infrastructure.progress import Progress

log = logging.getLogger(__name__)
T = TypeVar("T")
Route = Callable[[Delivery], tuple[str, T] | None]  # (key, what to handle), or None: nothing to do


class ConcurrentConsumer(Generic[T]):
    def __init__(
        self,
        consumer: KafkaConsumer,
        route: Route[T],
        handle: Callable[[T], None],
        name: str,
        workers: int = 8,
        max_in_flight: int = 2_000,
        commit_every_s: float = 0.2,
        group: str = "",
        metrics: Metrics = METRICS,
    ) -> None:
        """`group` labels the lag it reports, as for `ConsumerLoop`; none without it."""
        self.consumer = consumer
        self.route = route
        self.name = name
        self.max_in_flight = max_in_flight
        self.commit_every_s = commit_every_s
        self.progress = Progress()
        self._lock = threading.Lock()  # guards `progress`; the consumer is used by `run`'s thread only
        self.lanes: Lanes[tuple[TopicPartition, int, int, T, dict[str, str]]] = Lanes(
            lambda item: _traced(handle, item[3], item[4]), self._done, workers, name
        )
        self.incarnations = Incarnations(consumer)
        self.lag = ConsumerLag(consumer, group, metrics) if group else None
        self._paused = False

    def run(self, stop: threading.Event) -> None:
        """Poll, hand out and commit until `stop` is set; then let the workers finish what
        they started, commit it, and close the consumer."""
        self.lanes.start()
        last_commit = time.monotonic()
        try:
            while not stop.is_set():
                self._pause_or_resume()
                polled = self.consumer.poll(timeout_ms=100)
                renewed = self._renewed()
                for tp, records in polled.items():
                    for record in records if tp.topic not in renewed else ():
                        self._accept(Delivery.of(record))
                if time.monotonic() - last_commit >= self.commit_every_s:
                    self.commit()
                    last_commit = time.monotonic()
                if self.lag is not None:
                    self.lag.measure_if_due()
        finally:
            self.lanes.stop()
            self.commit()
            self.consumer.close(autocommit=False)

    def commit(self) -> None:
        with self._lock:
            offsets = self.progress.committable()
        if not offsets:
            return
        crash_point("consumer.before_offset_commit")
        try:
            self.consumer.commit({tp: OffsetAndMetadata(o, "", -1) for tp, o in offsets.items()})
        except (CommitFailedError, KafkaError) as error:  # the records come again, harmlessly
            log.warning("%s: commit of %s failed: %r", self.name, offsets, error)
            return
        with self._lock:
            self.progress.committed(offsets)
        if self.lag is not None:
            self.lag.committed(offsets)

    def _renewed(self) -> set[str]:
        """Topics re-created since the last poll: their partitions start over from 0."""
        renewed = self.incarnations.renewed()
        if renewed and self.lag is not None:
            self.lag.forget(renewed)
        if renewed:
            with self._lock:
                self.progress.forget(tp for tp in self.consumer.assignment() if tp.topic in renewed)
        return renewed

    def _accept(self, delivery: Delivery) -> None:
        tp = TopicPartition(delivery.topic, delivery.partition)
        routed = self.route(delivery)
        with self._lock:
            generation = self.progress.seen(tp, delivery.offset, in_flight=routed is not None)
        if routed is not None:
            key, item = routed
            self.lanes.add(key, (tp, delivery.offset, generation, item, delivery.trace_ids()))

    def _done(self, item: tuple[TopicPartition, int, int, Any, dict[str, str]]) -> None:
        with self._lock:
            self.progress.done(item[0], item[1], item[2])

    def _pause_or_resume(self) -> None:
        with self._lock:
            in_flight = self.progress.in_flight()
        if not self._paused and in_flight >= self.max_in_flight:
            self.consumer.pause(*self.consumer.assignment())
            self._paused = True
        elif self._paused and in_flight < self.max_in_flight // 2:
            self.consumer.resume(*self.consumer.paused())
            self._paused = False


def _traced(handle: Callable[[T], None], item: T, ids: dict[str, str]) -> None:
    with bound(**ids):
        handle(item)
