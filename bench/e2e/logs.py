"""Warnings in the processes' logs that mean a consumer fell behind its own poll deadline.

kafka-python logs "poll timeout has expired" when a consumer did not poll within
max.poll.interval.ms and left its group; the consumers log "rebalanced during the batch" when
that cost them a batch, which then comes again. Both mean work done twice under load. The
logs are appended to across runs, so only what was written after `mark` is counted.
"""

from pathlib import Path

PATTERNS = ("poll timeout has expired", "rebalanced during the batch")


def mark(log_dir: Path) -> dict[Path, int]:
    """Each log's current size: where this run's lines will start."""
    return {path: path.stat().st_size for path in log_dir.glob("*.log")}


def count_since(log_dir: Path, marks: dict[Path, int]) -> dict[str, dict[str, int]]:
    """Per log file with any hit, how many lines written since `marks` contain each pattern."""
    counts: dict[str, dict[str, int]] = {}
    for path in sorted(log_dir.glob("*.log")):
        with path.open("rb") as log:
            log.seek(marks.get(path, 0))
            text = log.read().decode(errors="replace")
        hits = {pattern: sum(pattern in line for line in text.splitlines()) for pattern in PATTERNS}
        if any(hits.values()):
            counts[path.stem] = hits
    return counts
