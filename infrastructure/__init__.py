"""Adapters: the PostgreSQL event store and command log, settings, the embedded dev stack."""
