"""Simulators of the two outside parties: a payment provider and a carrier.

Each runs as a process of its own behind an HTTP API (`orders psp-sim`, `orders carrier-sim`)
and keeps its records in a PostgreSQL schema of its own, as a real third party would: the
system reaches them only over the network, through the clients in `infrastructure/gateways/`,
so every failure a network call can have (refused, slow, answer lost after the work was done)
can be reproduced on demand and tested end to end.
"""
