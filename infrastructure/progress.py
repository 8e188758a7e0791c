"""How far a concurrent consumer may commit: per partition, the offsets handed to workers and
not yet done, and the next offset to come.

Records finish out of order (different orders, different speeds), so a partition's commit
point is the lowest offset still in flight, or the next offset when none is: never past a
record that is not handled. A partition whose records must no longer count (its topic was
re-created: offsets start again from 0) is forgotten, and a new generation begins for it,
so that a record of the old topic finishing late cannot mark an offset of the new one done.
"""

from collections.abc import Iterable

from kafka import TopicPartition


class Progress:
    def __init__(self) -> None:
        self._in_flight: dict[TopicPartition, set[int]] = {}
        self._next: dict[TopicPartition, int] = {}
        self._committed: dict[TopicPartition, int] = {}
        self._generation: dict[TopicPartition, int] = {}

    def seen(self, tp: TopicPartition, offset: int, in_flight: bool) -> int:
        """Note a polled record (in flight: handed to a worker); returns its generation."""
        if in_flight:
            self._in_flight.setdefault(tp, set()).add(offset)
        self._next[tp] = max(self._next.get(tp, 0), offset + 1)
        return self._generation.get(tp, 0)

    def done(self, tp: TopicPartition, offset: int, generation: int) -> None:
        if generation == self._generation.get(tp, 0):
            self._in_flight.get(tp, set()).discard(offset)

    def in_flight(self) -> int:
        return sum(len(offsets) for offsets in self._in_flight.values())

    def committable(self) -> dict[TopicPartition, int]:
        """Per partition, the offset below which every record is done, where it moved on."""
        ready = {tp: min(self._in_flight.get(tp) or {end}) for tp, end in self._next.items()}
        return {tp: offset for tp, offset in ready.items() if self._committed.get(tp) != offset}

    def committed(self, offsets: dict[TopicPartition, int]) -> None:
        self._committed.update(offsets)

    def forget(self, partitions: Iterable[TopicPartition]) -> None:
        """Start the partitions over: nothing in flight, nothing to commit, a new generation."""
        for tp in partitions:
            self._in_flight.pop(tp, None)
            self._next.pop(tp, None)
            self._committed.pop(tp, None)
            self._generation[tp] = self._generation.get(tp, 0) + 1
