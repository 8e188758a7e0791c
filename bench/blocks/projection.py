"""A read model's projector against the consumer it drives (L4, P4), on the records the relay
published in P3 (the orders topic: six events per order).

- L4: kafka-python's consumer, with the partitions assigned (no group to join) and the
  projector's batch size, reads every record and does nothing with them.
- P4: the `order_summary` projector, exactly as `orders projector order_summary` runs it (its
  consumer group, its loop, one transaction per polled batch: the version bookkeeping read
  and written once per batch, each event applied, then the offsets committed). Its group
  join, for which a joining member of the local broker waits out the rebalance, is
  reported apart.

Both rates are taken after the first batch (`Batches`).
"""

import threading
import time
from collections.abc import Sequence
from typing import Any

from kafka import TopicPartition

from bench.blocks.measure import POLL_S, Cpu, Run, watch
from bench.blocks.relay import CONTEXT
from infrastructure import kafka
from infrastructure.consuming import Delivery
from projections.order_summary import OrderSummary
from projections.runner import Projector


def measure(run: Run, events: int) -> None:
    """L4 and P4 over the `events` records of the orders topic; into `run.measurements`."""
    run.measurements["l4_consumer"] = _consume(run, events)
    run.measurements["p4_projector"] = _project(run, events)


def _consume(run: Run, events: int) -> dict[str, Any]:
    topic = run.settings.topic(CONTEXT)
    consumer = kafka.reader(run.settings, client_id="bench-l4")
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(partitions)
        consumer.seek_to_beginning()
        batches, read = Batches(run.pids), 0
        with watch(run, "L4 raw consumer", events, "records") as progress:
            while read < events:
                polled = sum(map(len, consumer.poll(timeout_ms=500).values()))
                if polled:
                    batches.done(polled)
                    read += polled
                    progress.progress(read)
            return progress.result(*batches.after_the_first(read), cpu=batches.cpu)
    finally:
        consumer.close()


class Batches:
    """When the first batch and the last were done: the rate and the CPU are taken over the
    batches after the first, which a consumer fetches ahead while the first is handled, so
    that neither side's clock holds its group join, its first fetch or its first round of
    connections."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.first: tuple[float, int] | None = None  # (when, records)
        self.last = 0.0
        self.cpu: Cpu | None = None

    def done(self, records: int) -> None:
        self.last = time.perf_counter()
        if self.first is None:
            self.first, self.cpu = (self.last, records), Cpu(self.pids)

    def after_the_first(self, total: int) -> tuple[int, float]:
        """(records, seconds) from the end of the first batch to the end of the last."""
        assert self.first is not None, "no batch was done"
        when, records = self.first
        assert total > records, "one batch held every record: the backlog must be larger"
        return total - records, self.last - when


class TimedProjector(Projector):
    """The real projector, noting when each batch is done."""

    def __init__(self, run: Run) -> None:
        super().__init__(run.settings, OrderSummary(), client_id="bench-p4")
        self.batches = Batches(run.pids)

    def handle(self, deliveries: Sequence[Delivery]) -> None:
        super().handle(deliveries)
        self.batches.done(len(deliveries))


def _project(run: Run, events: int) -> dict[str, Any]:
    projector = TimedProjector(run)
    stop = threading.Event()
    thread = threading.Thread(target=projector.run, args=(stop,), name="bench-projector")
    with watch(run, "P4 order_summary projector", events, "events") as progress:
        started = time.perf_counter()
        thread.start()
        try:
            sampling = False
            while projector.counts.total < events:
                if not thread.is_alive():
                    raise RuntimeError("the projector stopped before it applied the records")
                if not sampling and projector.batches.first is not None:
                    progress.start()  # the server's waits over the batches after the first
                    sampling = True
                progress.progress(projector.counts.total)
                time.sleep(POLL_S)
            batches = projector.batches
            result = progress.result(*batches.after_the_first(projector.counts.total), cpu=batches.cpu)
        finally:
            stop.set()
            thread.join()
    counts, first = projector.counts, projector.batches.first
    assert first is not None
    return result | {
        "first_batch_done_after_s": round(first[0] - started, 2),
        "applied": counts.applied,
        "duplicates_skipped": counts.duplicates_skipped,
        "dead_lettered": counts.dead_lettered,
    }
