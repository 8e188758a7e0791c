"""Personal data, sealed under its owner's own key so that it can be forgotten.

An order names a person: where to ship the parcel and which card to charge. Those values are
sealed (encrypted) under a key that belongs to that customer alone before they enter any
event, command or call, so the event store, the call tables, backups and every copy hold
ciphertext only. Deleting the customer's key (`orders forget`) makes every copy unreadable at
once, without rewriting any event: crypto-shredding. Replay, projections and the saga handle
the sealed values as they are and keep working after the erasure; only the few places that
need the clear value (the API's view of an order, the gateway calling the provider or the
carrier) open it through a `Vault`, and are told when it was erased.
"""

import json
from dataclasses import dataclass
from typing import Any, Protocol


class PersonalDataErasedError(Exception):
    """The owner's key was deleted: the sealed value can never be read again."""


@dataclass(frozen=True)
class Sealed:
    """A value encrypted under the key of `owner`: who may be forgotten."""

    owner: str
    ciphertext: str  # base64 of the cipher's output (nonce, tag and encrypted bytes)

    def as_json(self) -> dict[str, str]:
        return {"owner": self.owner, "ciphertext": self.ciphertext}

    @classmethod
    def from_json(cls, data: Any) -> "Sealed":
        return cls(owner=data["owner"], ciphertext=data["ciphertext"])

    def __repr__(self) -> str:
        return f"Sealed(owner={self.owner!r})"  # the ciphertext says nothing to a reader of logs


class Vault(Protocol):
    """Keeps one key per owner: seals under it (creating it on first use), opens with it, and
    deletes it for good."""

    def seal(self, owner: str, plaintext: str) -> Sealed: ...

    def open(self, sealed: Sealed) -> str:
        """The clear value; `PersonalDataErasedError` once the owner's key is gone."""
        ...

    def forget(self, owner: str) -> bool:
        """Delete the owner's key; True if there was one."""
        ...


def owner_of(tenant_id: str, customer_id: str) -> str:
    """Customers are named by their tenant, so one tenant's erasure never touches another's."""
    return f"{tenant_id}/{customer_id}"


def seal_json(vault: Vault, owner: str, value: dict[str, Any]) -> Sealed:
    return vault.seal(owner, json.dumps(value, sort_keys=True, separators=(",", ":")))


def open_json(vault: Vault, sealed: Sealed) -> Any:
    return json.loads(vault.open(sealed))
