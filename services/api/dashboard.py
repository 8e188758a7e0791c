"""The live dashboard: `GET /dashboard`, a page that polls `GET /dashboard/data` every 2 s.

The page asks for a whole snapshot at a time rather than holding a server-sent event stream
open: a snapshot is cheap to share (the API computes one at most once a second, however
many pages are open, `MAX_AGE_S`), an answer that fails costs one missed refresh and no
reconnection logic, the page survives an API restart by asking again, and a
test or a script can read the same JSON the page shows. At a refresh of seconds a stream
would save nothing but hold a connection, and a worker thread, per open page.

A snapshot reads the tables through `Tables` (on PostgreSQL: services/ops/dashboard.py) and
the metrics through `Peers` (this process's and the other processes'). Each section is read
on its own: one that fails (no database in memory, PostgreSQL away, a table another version
writes differently) is named in `unavailable` and logged, and the others are shown. Like
`/metrics`, it needs no API key: it shows counts and the dead letters' errors, no personal
data (the projections and the dead letters hold none in clear) and no secret, and every
query is bounded (counts, the last `RECENT_DEAD_LETTERS`, the last `WINDOW_S` of placements).
"""

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol, TypeVar
from uuid import UUID

from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.responses import Response

from domain.orders import OrderStatus
from services.api.peers import Peers, Scrape
from services.bootstrap import Metrics, System

log = logging.getLogger(__name__)

T = TypeVar("T")
STATIC = Path(__file__).parent / "static"
ASSETS = {"dashboard.js": "text/javascript", "dashboard.css": "text/css"}
# The page loads only its own script and style, and shows the data it fetches as text.
POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self';"
    " frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
MAX_AGE_S = 1.0  # how long one snapshot answers every page
WINDOW_S, BUCKET_S = 300, 10  # the placements chart: the last five minutes, ten seconds a bar
RECENT_DEAD_LETTERS = 10


class StatusCount(BaseModel):
    status: str
    orders: int


class Orders(BaseModel):
    """The order_summary read model: every order it holds, by status (every status, 0s too)."""

    by_status: list[StatusCount]
    total: int


class Throughput(BaseModel):
    per_second: float = Field(description="Orders placed per second over the last minute.")
    bucket_seconds: int
    buckets: list[int] = Field(description="Orders placed in each bucket, oldest first; the last is now.")


class RelayLag(BaseModel):
    context: str
    events: int = Field(description="Stored events past the relay's saved position.")


class ConsumerLag(BaseModel):
    group: str
    records: int = Field(description="Records past the group's committed offsets, summed over its processes.")


class Duplicates(BaseModel):
    layer: str
    absorbed: int


class DeadLetter(BaseModel):
    id: int
    consumer: str
    aggregate_id: UUID | None
    version: int | None
    error: str
    status: str
    at: datetime


class DeadLetters(BaseModel):
    open: int
    recent: list[DeadLetter] = Field(description="The latest dead letters, newest first, open or not.")


class Reconciliation(BaseModel):
    run_id: str
    started_at: datetime
    finished_at: datetime
    differences: int
    by_kind: dict[str, int]
    repaired: int


class Process(BaseModel):
    name: str
    up: bool = Field(description="Whether it answered for its metrics just now.")


class DashboardData(BaseModel):
    generated_at: datetime
    unavailable: list[str] = Field(description="The sections that could not be read now; each is null or [].")
    orders: Orders | None
    throughput: Throughput | None
    relay_lag: list[RelayLag]
    consumer_lag: list[ConsumerLag]
    duplicates: list[Duplicates]
    dead_letters: DeadLetters | None
    reconciliation: Reconciliation | None = Field(
        description="The latest finished run; null if none ever ran."
    )
    processes: list[Process]


class Tables(Protocol):
    """What the dashboard reads from the database. A table that does not exist yet (its
    projector or command never ran) reads as empty."""

    def orders_by_status(self) -> Mapping[str, int]: ...

    def placements(self, window_s: int, bucket_s: int) -> Sequence[int]:
        """Orders placed in each `bucket_s` of the last `window_s`, oldest first."""
        ...

    def relay_positions(self) -> Mapping[str, int]:
        """The last notification id each context's relay published, by context."""
        ...

    def dead_letters(self, limit: int) -> DeadLetters: ...

    def latest_reconciliation(self) -> Reconciliation | None: ...


class Dashboard:
    """Snapshots, each made at most once every MAX_AGE_S and shared by every page."""

    def __init__(self, system: System, tables: Tables | None, peers: Peers) -> None:
        self.system, self.tables, self.peers = system, tables, peers
        self._lock = threading.Lock()
        self._latest: DashboardData | None = None
        self._made_at = 0.0

    def data(self) -> DashboardData:
        with self._lock:
            if self._latest is None or time.monotonic() - self._made_at >= MAX_AGE_S:
                self._latest, self._made_at = self._snapshot(), time.monotonic()
            return self._latest

    def _snapshot(self) -> DashboardData:
        unavailable: list[str] = []

        def read(section: str, reading: Callable[[Tables], T]) -> T | None:
            if self.tables is None:  # in memory: no read model, no relay, no dead letters
                unavailable.append(section)
                return None
            try:
                return reading(self.tables)
            except Exception as error:  # a dashboard shows what it can, and says what it cannot
                log.warning("dashboard: cannot read %s: %s", section, error)
                unavailable.append(section)
                return None

        scrape = self.peers.scrape()  # this process's own registry at least: it cannot fail
        return DashboardData(
            generated_at=datetime.now(UTC),
            orders=read("orders", lambda tables: _orders(tables.orders_by_status())),
            throughput=read("throughput", lambda tables: _throughput(tables.placements(WINDOW_S, BUCKET_S))),
            relay_lag=read("relay_lag", self._relay_lag) or [],
            consumer_lag=_consumer_lag(scrape),
            duplicates=_duplicates(scrape),
            dead_letters=read("dead_letters", lambda tables: tables.dead_letters(RECENT_DEAD_LETTERS)),
            reconciliation=read("reconciliation", lambda tables: tables.latest_reconciliation()),
            processes=[Process(name=name, up=up) for name, up in scrape.up.items()],
            unavailable=unavailable,
        )

    def _relay_lag(self, tables: Tables) -> list[RelayLag]:
        positions = tables.relay_positions()
        stored = {name: app.recorder.max_notification_id() or 0 for name, app in self.system.apps.items()}
        return [
            RelayLag(context=name, events=max(0, last - positions.get(name, 0)))
            for name, last in stored.items()
        ]


def _orders(counts: Mapping[str, int]) -> Orders:
    statuses = [*OrderStatus, *sorted(set(counts) - set(OrderStatus))]
    by_status = [StatusCount(status=status, orders=counts.get(status, 0)) for status in statuses]
    return Orders(by_status=by_status, total=sum(counts.values()))


def _throughput(buckets: Sequence[int]) -> Throughput:
    last_minute = sum(buckets[-(60 // BUCKET_S) :])
    return Throughput(per_second=last_minute / 60, bucket_seconds=BUCKET_S, buckets=list(buckets))


def _consumer_lag(scrape: Scrape) -> list[ConsumerLag]:
    lag = scrape.by("orders_consumer_lag_records", "group")
    return [ConsumerLag(group=group, records=int(records)) for group, records in sorted(lag.items())]


def _duplicates(scrape: Scrape) -> list[Duplicates]:
    absorbed = scrape.by("orders_duplicates_absorbed_total", "layer")
    return [Duplicates(layer=layer, absorbed=int(count)) for layer, count in absorbed.items()]


def router(system: System, metrics: Metrics, tables: Tables | None, peers: Mapping[str, str]) -> APIRouter:
    dashboard = Dashboard(system, tables, Peers(metrics, peers))
    ops = APIRouter()
    page = _served(STATIC / "dashboard.html", "text/html", {"Content-Security-Policy": POLICY})
    ops.add_api_route("/dashboard", page, include_in_schema=False)
    for name, media_type in ASSETS.items():
        ops.add_api_route(f"/dashboard/{name}", _served(STATIC / name, media_type), include_in_schema=False)

    @ops.get("/dashboard/data", response_model=DashboardData)
    def dashboard_data() -> DashboardData:
        """What the live dashboard shows, as of `generated_at` (at most a second old)."""
        return dashboard.data()

    return ops


def _served(path: Path, media_type: str, headers: Mapping[str, str] | None = None) -> Callable[[], Response]:
    """An endpoint answering the file's bytes, read once, and taking no parameter."""
    body = path.read_bytes()
    return lambda: Response(body, media_type=media_type, headers=headers)
