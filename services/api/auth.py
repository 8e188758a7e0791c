"""`Authorization: Bearer <key>`: each API key belongs to one tenant (ORDERS_API_KEYS), and the
tenant scopes every Idempotency-Key and owns the orders it places.

The process keeps only the SHA-256 digest of each key and compares digests in constant time,
with every key: a memory dump shows no key, and the time taken tells nothing about a key's
length or its first bytes."""

import hashlib
import hmac
from collections.abc import Callable, Mapping
from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from services.api.problems import UNAUTHENTICATED

bearer = HTTPBearer(auto_error=False, description="An API key; each belongs to one tenant.")


def tenant_of(api_keys: Mapping[str, str]) -> Callable[..., str]:
    """The dependency answering the caller's tenant, or 401. `api_keys` maps key -> tenant."""
    known = [(_digest(key), tenant) for key, tenant in api_keys.items()]

    def tenant(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> str:
        given = _digest(credentials.credentials if credentials else "")
        matches = [tenant for key, tenant in known if hmac.compare_digest(key, given)]
        if not matches:
            raise UNAUTHENTICATED.error(
                "send `Authorization: Bearer <API key>`", {"WWW-Authenticate": 'Bearer realm="orders"'}
            )
        return matches[0]

    return tenant


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()
