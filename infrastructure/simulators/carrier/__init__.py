"""The carrier simulator: its bookings and HTTP API."""

from infrastructure.simulators.carrier.app import create_app

__all__ = ["create_app"]
