"""The HTTP API: FastAPI over the four contexts, with the Idempotency-Key layer in front of
every POST (`idempotency.py`) and RFC 9457 problems for every error (`problems.py`)."""

from services.api.app import ApiConfig, create_app

__all__ = ["ApiConfig", "create_app"]
