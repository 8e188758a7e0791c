"""Fault injection used by the integration and chaos tests: nothing here runs in production paths."""
