"""A fingerprint of a projection's read model, to compare two builds of it (invariant I5).

md5 over every row of every table of the projection, each row in PostgreSQL's text form,
rows sorted, tables in declaration order. The tables hold only what events say, so a live
model, a replay from Kafka offset 0 and a fold of the event store agree exactly when the
checksums do. Bookkeeping (versions, counters, dead letters) is not part of it.
"""

import hashlib
from typing import Any

from psycopg import Connection, sql

from projections.projection import Projection

# Sorted byte-wise (COLLATE "C"), so the order does not depend on the server's locale.
ROWS_MD5 = sql.SQL(
    "SELECT count(*), md5(coalesce(string_agg(r, chr(10) ORDER BY r COLLATE \"C\"), ''))"
    " FROM (SELECT t::text AS r FROM {} AS t) AS rendered"
)


def checksum(connection: Connection[Any], projection: Projection) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    for table in projection.tables:
        rows, table_md5 = _table_md5(connection, table.name)
        digest.update(f"{table.name}:{rows}:{table_md5}\n".encode())
    return digest.hexdigest()


def _table_md5(connection: Connection[Any], table: str) -> tuple[int, str]:
    row = connection.execute(ROWS_MD5.format(sql.Identifier(table))).fetchone()
    assert row is not None
    return int(row[0]), str(row[1])
