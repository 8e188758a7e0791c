"""The payment provider simulator: its ledger, test tokens, webhooks and HTTP API."""

from infrastructure.simulators.psp.app import create_app

__all__ = ["create_app"]
