"""The customers' keys: the `Vault` of domain/privacy.py, on PostgreSQL or in memory.

Each owner gets a random 256-bit key, used with the eventsourcing library's own cipher
(`eventsourcing.cipher.AESCipher`: AES-GCM, a fresh nonce per value, tampering detected).
On PostgreSQL the keys live in `personal_data_keys`, each itself encrypted under the event
store's key (ORDERS_CIPHER_KEY) when one is set, so a copy of the table alone opens nothing.
Forgetting an owner deletes its row. Nothing is cached: once the row is gone, no process can
open that owner's data again, and data sealed later gets a new key.
"""

from base64 import b64decode, b64encode
from typing import Protocol

from eventsourcing.cipher import AESCipher
from eventsourcing.persistence import Cipher
from eventsourcing.utils import Environment
from psycopg import sql

from domain.privacy import PersonalDataErasedError, Sealed
from infrastructure.database import pool_with_tables
from infrastructure.settings import Settings

KEY_BYTES = 32


class Keys(Protocol):
    def get(self, owner: str) -> bytes | None: ...

    def get_or_create(self, owner: str, new: bytes) -> bytes: ...

    def delete(self, owner: str) -> bool: ...


class KeyVault:
    def __init__(self, keys: Keys) -> None:
        self.keys = keys

    def seal(self, owner: str, plaintext: str) -> Sealed:
        key = self.keys.get_or_create(owner, AESCipher.random_bytes(KEY_BYTES))
        ciphertext = cipher(key).encrypt(plaintext.encode())
        return Sealed(owner=owner, ciphertext=b64encode(ciphertext).decode())

    def open(self, sealed: Sealed) -> str:
        key = self.keys.get(sealed.owner)
        if key is None:
            raise PersonalDataErasedError(f"the personal data of {sealed.owner} was erased")
        return cipher(key).decrypt(b64decode(sealed.ciphertext)).decode()

    def forget(self, owner: str) -> bool:
        return self.keys.delete(owner)

    def close(self) -> None:
        close = getattr(self.keys, "close", None)
        if close is not None:
            close()


def memory_vault() -> KeyVault:
    return KeyVault(MemoryKeys())


def postgres_vault(settings: Settings, wrap: Cipher | None) -> KeyVault:
    return KeyVault(PostgresKeys(settings, wrap))


def cipher(key: bytes) -> Cipher:
    return AESCipher(Environment(env={AESCipher.CIPHER_KEY: b64encode(key).decode()}))


class MemoryKeys:
    def __init__(self) -> None:
        self._keys: dict[str, bytes] = {}

    def get(self, owner: str) -> bytes | None:
        return self._keys.get(owner)

    def get_or_create(self, owner: str, new: bytes) -> bytes:
        return self._keys.setdefault(owner, new)

    def delete(self, owner: str) -> bool:
        return self._keys.pop(owner, None) is not None


class PostgresKeys:
    """`wrap`, the store's own cipher when a key is configured, encrypts each key at rest."""

    TABLE = sql.SQL(
        "CREATE TABLE IF NOT EXISTS personal_data_keys ("
        " owner text PRIMARY KEY, key bytea NOT NULL, created_at timestamptz NOT NULL DEFAULT now())"
    ).format()

    def __init__(self, settings: Settings, wrap: Cipher | None) -> None:
        self._pool = pool_with_tables(settings, [self.TABLE], max_connections=4)
        self._wrap = wrap

    def get(self, owner: str) -> bytes | None:
        with self._pool.connection() as conn:
            row = conn.execute("SELECT key FROM personal_data_keys WHERE owner = %s", (owner,)).fetchone()
        return None if row is None else self._unwrapped(bytes(row[0]))

    def get_or_create(self, owner: str, new: bytes) -> bytes:
        """The owner's key; `new` becomes it if there is none. A returning owner costs one
        SELECT; a new one an INSERT and a second SELECT, a statement of its own so that it sees
        a key that a concurrent caller committed while the INSERT waited for it."""
        existing = self.get(owner)
        if existing is not None:
            return existing
        stored = self._wrap.encrypt(new) if self._wrap else new
        with self._pool.connection() as conn:
            conn.execute(
                "INSERT INTO personal_data_keys (owner, key) VALUES (%s, %s) ON CONFLICT (owner) DO NOTHING",
                (owner, stored),
            )
        key = self.get(owner)
        if key is None:  # forgotten between the two statements: refuse to seal under a lost key
            raise PersonalDataErasedError(f"the personal data of {owner} was erased while being sealed")
        return key

    def delete(self, owner: str) -> bool:
        with self._pool.connection() as conn:
            return conn.execute("DELETE FROM personal_data_keys WHERE owner = %s", (owner,)).rowcount > 0

    def close(self) -> None:
        self._pool.close()

    def _unwrapped(self, stored: bytes) -> bytes:
        return self._wrap.decrypt(stored) if self._wrap else stored
