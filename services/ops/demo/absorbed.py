"""What each process says it absorbed, read from its own `/metrics` while the demo runs.

The customers exercise the API's layers (every POST twice, some copies at once), the
provider's (a lost answer asked again under its key) and the webhooks' (the provider sends
each one twice). To exercise the consumers' too while the processes run, `copy_records` puts
records on their partitions again, as a broker may deliver a record twice. The first
placements are copied while the saga is paused, so that it meets each twice while the order
still waits for it: the command log answers the copy's commands. (A copy that comes after
the order ended changes nothing either, but issues no command: the saga decides by the
order's state.) The first records of every topic are copied again at the end, and every
projector skips them. `Absorbed` then scrapes every process and holds each to the layers
the scenario exercised there: a zero where the scenario put duplicates means the counter,
or the layer, is broken.
"""

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from kafka.structs import TopicPartition

from infrastructure import kafka
from infrastructure.metrics import LAYERS, absorbed, scrape
from infrastructure.settings import Settings

COPIES_PER_PARTITION = 2
POLL_MS = 2_000

# Where the scenario puts duplicates, by process (a projector-* pattern covers every projector).
EXERCISED: Mapping[str, tuple[str, ...]] = {
    "api": ("http_replay", "http_in_flight", "webhook"),
    "psp-sim": ("provider",),
    "saga": ("command_log", "consumer"),
    "projector-": ("consumer",),
}


def copy_records(settings: Settings, contexts: Iterable[str], wait_s: float = 0.0) -> int:
    """Put the first `COPIES_PER_PARTITION` records of every partition of the contexts' topics on
    that partition again, headers and key unchanged, waiting up to `wait_s` for a partition to
    hold that many; returns how many were copied."""
    topics = [settings.topic(context) for context in contexts]
    reader = kafka.reader(settings, "demo-copies")
    try:
        partitions = [TopicPartition(t, p) for t in topics for p in _partitions(reader, t)]
        reader.assign(partitions)
        reader.seek_to_beginning(*partitions)
        wanted = {partition: COPIES_PER_PARTITION for partition in partitions}
        records = []
        deadline = time.monotonic() + wait_s
        while any(wanted.values()):
            polled = reader.poll(timeout_ms=POLL_MS)
            if not polled and time.monotonic() >= deadline:
                break  # the rest of the partitions hold fewer records
            for partition, batch in polled.items():
                taken = batch[: wanted[partition]]
                records += taken
                wanted[partition] -= len(taken)
                if not wanted[partition]:
                    reader.pause(partition)
    finally:
        reader.close()
    producer = kafka.producer(settings, "demo-copies")
    try:
        sent = [
            producer.send(r.topic, value=r.value, key=r.key, headers=r.headers, partition=r.partition)
            for r in records
        ]
        for future in sent:
            future.get(timeout=10)
    finally:
        producer.close()
    return len(records)


def _partitions(reader: Any, topic: str) -> list[int]:
    return sorted(reader.partitions_for_topic(topic) or ())


@dataclass(frozen=True)
class Absorbed:
    """Duplicates absorbed per process and layer, as each process's `/metrics` said."""

    counts: Mapping[str, Mapping[str, float]]  # process -> layer -> count
    silent: tuple[str, ...]  # processes whose /metrics did not answer

    @classmethod
    def scrape(cls, urls: Mapping[str, str]) -> "Absorbed":
        counts, silent = {}, []
        for name, url in urls.items():
            try:
                samples = scrape(url)
            except httpx.HTTPError:
                silent.append(name)
                continue
            counts[name] = {layer: absorbed(samples, layer) for layer in LAYERS}
        return cls(counts, tuple(silent))

    def missing(self, unused: Iterable[str] = ()) -> list[str]:
        """`process: layer` for every layer the scenario exercised that a process shows at zero;
        `unused` names layers this run happened not to reach (no copy met its twin running)."""
        gaps = [f"{name}: /metrics did not answer" for name in self.silent]
        for name, layers in self.counts.items():
            for layer in exercised(name):
                if layer not in unused and not layers[layer]:
                    gaps.append(f"{name}: {layer} at 0")
        return gaps

    def table(self) -> list[str]:
        used = [layer for layer in LAYERS if any(layers[layer] for layers in self.counts.values())]
        width = max(len(name) for name in self.counts) + 2 if self.counts else 10
        lines = ["  " + "".ljust(width) + "".join(f"{layer:>16}" for layer in used)]
        for name, layers in self.counts.items():
            lines.append("  " + name.ljust(width) + "".join(f"{layers[layer]:>16.0f}" for layer in used))
        return lines


def exercised(process: str) -> tuple[str, ...]:
    for name, layers in EXERCISED.items():
        if process == name or (name.endswith("-") and process.startswith(name)):
            return layers
    return ()
