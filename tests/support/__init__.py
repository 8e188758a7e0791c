"""Shared test support: per-test isolation on the shared servers, a stand-in for the relay,
and order flows driven through the real applications. Imported as `support` (pytest puts
tests/ on sys.path, because tests/conftest.py is not inside a package)."""
