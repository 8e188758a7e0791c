"""The system's metrics as the dashboard adds them up: this process's registry, plus what the
other processes serve at `/metrics` (ORDERS_METRICS_URLS, which `orders run` writes).

Each peer is asked from a thread of its own with a short timeout, all at once, so one that
hangs costs the dashboard that timeout and no more; one that does not answer, or answers
with something other than metrics, is reported down and adds nothing. Only the system's own
series (`orders_*`) are kept: the `process_*` and `python_*` families are per process, and
adding them up across processes means nothing.
"""

import logging
from collections import defaultdict
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx

from services.bootstrap import Metrics, Samples, scrape

log = logging.getLogger(__name__)

PREFIX = "orders_"
TIMEOUT_S = 0.5  # a process serves its metrics in milliseconds; one that takes longer is down


@dataclass(frozen=True)
class Scrape:
    """The samples every process that answered serves, added up, and who answered."""

    samples: Samples
    up: Mapping[str, bool]  # by process name, this one first

    def by(self, series: str, label: str) -> dict[str, float]:
        """The series' values by one of its labels, summed over the other labels."""
        summed: dict[str, float] = defaultdict(float)
        for (name, labels), value in self.samples.items():
            if name == series:
                summed[dict(labels).get(label, "")] += value
        return dict(summed)


class Peers:
    """This process's registry, and the other processes' `/metrics` by name."""

    def __init__(self, own: Metrics, urls: Mapping[str, str], own_name: str = "api") -> None:
        self.own, self.urls, self.own_name = own, dict(urls), own_name
        self._was_up = dict.fromkeys(self.urls, True)  # so that the log says each change once

    def scrape(self) -> Scrape:
        """This process's samples and every peer's, added up; the peers asked in parallel."""
        taken = [_own(self.own.samples())]
        up = {self.own_name: True}
        if self.urls:
            with ThreadPoolExecutor(max_workers=len(self.urls), thread_name_prefix="peer") as pool:
                answers = list(pool.map(_scrape, self.urls.values()))
            for name, samples in zip(self.urls, answers, strict=True):
                up[name] = samples is not None
                taken += [samples] if samples is not None else []
                if up[name] != self._was_up[name]:
                    log.warning(
                        "metrics of %s at %s: %s", name, self.urls[name], "up" if up[name] else "down"
                    )
            self._was_up.update((name, up[name]) for name in self.urls)
        total: Samples = defaultdict(float)
        for samples in taken:
            for series, value in samples.items():
                total[series] += value
        return Scrape(dict(total), up)


def _scrape(url: str) -> Samples | None:
    """The peer's `orders_*` samples, or None if it does not answer with metrics."""
    try:
        return _own(scrape(url, TIMEOUT_S))
    except (httpx.HTTPError, ValueError) as error:
        log.debug("metrics of %s: %s", url, error)
        return None


def _own(samples: Samples) -> Samples:
    """The system's own series, without the per-process `process_*` and `python_*`."""
    return {series: value for series, value in samples.items() if series[0].startswith(PREFIX)}
