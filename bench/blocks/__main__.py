"""python -m bench.blocks [--tiny] [--out DIR]

Each building block of the system measured against its limit, in one run on the same
PostgreSQL and broker: the command path against a raw insert and the library's own save
(L1, L2, P1), a replayed command against its first execution and a point read (P2), the
relay against a raw producer (L3, P3), a projector against a raw consumer (L4, P4), and the
HTTP API with its idempotency layer against the same endpoint without it (P6). Uses
DATABASE_URL and KAFKA_BOOTSTRAP_SERVERS, or the dev stack in $ORDERS_DEVSTACK_DIR (started
if need be), in a schema and a topic prefix of its own. Writes latest.json and latest.md to
--out and appends to its history.jsonl; prints the table. Exits 0 whatever the figures say;
1 when a server fails it or the results cannot be written.
"""

import argparse
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import psycopg
from eventsourcing.persistence import PersistenceError
from kafka.errors import KafkaError
from psycopg import sql

from bench.blocks import database, http, projection, relay, report
from bench.blocks.measure import FULL, TINY, Run, Sizes
from bench.e2e import output
from bench.e2e.system import servers
from infrastructure.devstack import DevStackError
from infrastructure.settings import SettingsError
from services.bootstrap import build

RESULTS = Path(__file__).parent.parent / "results"
FAILURES = (psycopg.Error, PersistenceError, KafkaError, DevStackError, SettingsError, OSError)


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.blocks",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--tiny", action="store_true", help="a few operations of each kind, in seconds (for CI)"
    )
    parser.add_argument(
        "--out", type=Path, default=RESULTS, help="where the results go (default bench/results)"
    )
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse(argv)
    try:
        results = measure(TINY if args.tiny else FULL, argv)
        report.evaluate(results)
        written = report.write(results, args.out)
    except FAILURES as error:
        print(f"bench.blocks: error: {' '.join(str(error).split())}", file=sys.stderr)
        return 1
    print(f"\n{report.markdown(results)}\nresults: {', '.join(map(str, written))}", flush=True)
    return 0


def measure(sizes: Sizes, argv: list[str]) -> dict[str, Any]:
    """Every pair, in a schema and a topic prefix of this run's own, dropped afterwards."""
    began = time.perf_counter()
    stack = servers()
    run_id = time.strftime("%Y%m%d_%H%M%S")
    settings = stack.settings.replace(
        postgres_schema=f"blocks_{run_id}", kafka_topic_prefix=f"blocks-{run_id}."
    )
    os.environ["PGAPPNAME"] = f"bench-blocks-{run_id}"  # every connection's, for `waits.py`
    pids = {
        name: pid for name, pid in (("postgres", stack.postgres_pid), ("broker", stack.broker_pid)) if pid
    }
    run = Run(settings, build(settings), sizes, pids)
    print(
        f"building blocks{' (tiny)' if sizes is TINY else ''}: schema {settings.postgres_schema}", flush=True
    )
    try:
        database.measure(run)
        events = relay.measure(run)
        projection.measure(run, events)
        http.measure(run)
    finally:
        run.system.close()
        with psycopg.connect(run.database_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(settings.postgres_schema)))
    return {
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": ["python", "-m", "bench.blocks", *argv],
        "tiny": sizes is TINY,
        "sizes": asdict(sizes) | {"backlog_events": events},
        "threads": list(sizes.threads),
        "environment": output.environment(run.database_url),
        "postgres_settings": _server_settings(run.database_url),
        "measurements": run.measurements,
        "elapsed_s": round(time.perf_counter() - began, 1),
    }


def _server_settings(database_url: str) -> dict[str, str]:
    """What decides the cost of a commit."""
    with psycopg.connect(database_url) as conn:
        return {
            name: str(conn.execute(sql.SQL("SHOW {}").format(sql.Identifier(name))).fetchone()[0])  # type: ignore[index]
            for name in ("synchronous_commit", "fsync", "wal_sync_method")
        }


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
