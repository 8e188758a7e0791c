"""The building-block benchmark: each mechanism of the system measured against its limit, in
one run on the same PostgreSQL and broker, as a ratio that says what the mechanism costs.

The limits are what the same server and client can do without the mechanism: a raw insert
and the eventsourcing library's own save for the command path, a raw producer for the
relay, a raw consumer for a projector, the same endpoint without its idempotency layer for
the HTTP API. Each ratio is shown against the target set for it, and never asserted: the
absolute figures depend on the machine, the ratios much less. `python -m bench.blocks
--help` has the usage; bench/README.md says what each pair measures.
"""
