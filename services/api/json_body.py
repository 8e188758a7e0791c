"""The body of every POST with an Idempotency-Key is read as RFC 8259 JSON, strictly, before
its key is claimed.

FastAPI parses bodies with Python's `json`, which is more lenient than the RFC. It reads a BOM
and UTF-16 or UTF-32 bodies, `NaN` and `Infinity`, and a name that occurs twice, keeping the
last value. A proxy or an audit log that keeps the first value would see another request than
the one executed, and the fingerprint would count `{"quantity": 1, "quantity": 2}` as the same
request as `{"quantity": 2}`. So such a body is refused, as malformed JSON is (422). So is a body
nested too deeply to parse again here: FastAPI's own parse runs a few stack frames higher and
may just have succeeded.
"""

import json
from typing import Any

from fastapi.exceptions import RequestValidationError


def canonical(body: bytes) -> str:
    """`body` with sorted keys and no whitespace, or a RequestValidationError."""
    try:
        value = json.loads(body.decode(), object_pairs_hook=_unique_names, parse_constant=_not_json)
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    except RecursionError:
        raise _malformed("the body is nested too deeply") from None
    except ValueError as error:  # not UTF-8 (or with a BOM), not JSON, a repeated name, NaN
        raise _malformed(str(error)) from None


def _unique_names(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    members: dict[str, Any] = {}
    for name, value in pairs:
        if name in members:
            raise ValueError(f"the name {name!r} occurs twice in one object")
        members[name] = value
    return members


def _not_json(literal: str) -> Any:
    raise ValueError(f"{literal} is not a JSON value")


def _malformed(reason: str) -> RequestValidationError:
    return RequestValidationError([{"type": "json_invalid", "loc": ("body",), "msg": reason}])
