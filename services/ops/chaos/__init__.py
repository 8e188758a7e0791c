"""`orders chaos`: the system under a workload and a seeded nemesis, then the invariant check.

The nemesis kills and pauses the system's processes, pauses the broker and crashes
PostgreSQL (where the dev stack owns them) while customers keep placing and cancelling
orders through the API. Then everything is healed, the system is left to finish, and
`orders check` decides. The seed fixes the sequence of fault kinds, pauses and workload;
which process a fault finds running depends on timing.
"""
