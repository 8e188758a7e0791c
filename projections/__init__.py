"""Read models fed from Kafka, each applied exactly once per event (layers 6 and 7 of docs/IDEMPOTENCY.md).

A projection only says which contexts it reads, which tables it owns and how one event
changes them (`projection`; the read models are `order_summary`, `stock`, `payment_ledger`,
listed in `catalog`). Everything else is shared and written once:

- `ordering`: the pure rule per event: duplicate, next, gap, or blocked behind a dead letter;
- `applying`: that rule applied inside one PostgreSQL transaction per batch, with the
  version records (`positions`), parked events, dead letters and counters (`stats`) in it;
- `runner`: the live consumer-group member; `rebuild` and `sources`: the same applier fed
  from Kafka offset 0 or from the event store; `checksum`: to compare the results;
- `dlq`: the operator's retry and discard; `tables`: DDL, the rebuild's new tables and their
  swap, and the rebuild lock.
"""
