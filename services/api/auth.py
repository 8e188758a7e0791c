"""`Authorization: Bearer <key>`: each API key belongs to one tenant (ORDERS_API_KEYS), and the
tenant scopes every Idempotency-Key and owns the orders it places."""

import hmac
from collections.abc import Callable, Mapping
from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from services.api.problems import UNAUTHENTICATED

bearer = HTTPBearer(auto_error=False, description="An API key; each belongs to one tenant.")


def tenant_of(api_keys: Mapping[str, str]) -> Callable[..., str]:
    """The dependency answering the caller's tenant, or 401. `api_keys` maps key -> tenant."""
    known = [(key.encode(), tenant) for key, tenant in api_keys.items()]

    def tenant(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> str:
        given = credentials.credentials.encode() if credentials else b""
        # Compare with every key, in constant time, so timing tells nothing about the keys.
        matches = [tenant for key, tenant in known if hmac.compare_digest(key, given)]
        if not matches:
            raise UNAUTHENTICATED.error(
                "send `Authorization: Bearer <API key>`", {"WWW-Authenticate": 'Bearer realm="orders"'}
            )
        return matches[0]

    return tenant
