"""Unit tests: the model and the services in memory, no I/O.

A package, so that a test module here may share its name with one in tests/integration.
"""
