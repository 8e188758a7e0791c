"""The pure model: aggregates, domain events, value objects and command types.

Nothing here performs I/O or imports from the other layers; `tests/unit/test_layering.py`
keeps it that way.
"""
