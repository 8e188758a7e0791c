"""Where the integration tests' PostgreSQL server and Kafka broker come from, decided once per
session by `choose_backend`, a pure function of the environment and of whether a Docker
engine answers.

Each server comes from one of three places (`Source`):

- external: the environment names it (DATABASE_URL, KAFKA_BOOTSTRAP_SERVERS);
- containers: testcontainers starts PostgreSQL 15 and a Kafka broker (KRaft, one node) in
  Docker for the session;
- embedded: the embedded dev stack's PostgreSQL and broker, from wheels (no Docker).

ORDERS_TEST_BACKEND picks one for both servers: `external` (both variables must be set),
`containers` (a Docker engine must answer; `testcontainers` is its older name) or
`embedded`. Unset, empty or `auto`: each server comes from its variable when set, else from
containers when a Docker engine answers, else embedded. The engine is asked (`ping`) only if
the choice depends on it, and at most once.

The containers path is not exercised where these tests are usually run (no Docker engine
there): `tests/unit/test_backends.py` checks the choice, not the containers. To run the suite
against containers on a machine with Docker: `ORDERS_TEST_BACKEND=containers make test`.
"""

import enum
import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass

VARIABLE = "ORDERS_TEST_BACKEND"
DATABASE_URL = "DATABASE_URL"
KAFKA_BOOTSTRAP_SERVERS = "KAFKA_BOOTSTRAP_SERVERS"
POSTGRES_IMAGE = "postgres:15"
KAFKA_IMAGE = "confluentinc/cp-kafka:7.6.0"  # what testcontainers' KafkaContainer runs in KRaft mode


class Source(enum.Enum):
    EXTERNAL = "external"
    CONTAINERS = "containers"
    EMBEDDED = "embedded"


# What ORDERS_TEST_BACKEND may say; None is `auto`.
CHOICES: dict[str, Source | None] = {
    "": None,
    "auto": None,
    "external": Source.EXTERNAL,
    "containers": Source.CONTAINERS,
    "testcontainers": Source.CONTAINERS,
    "embedded": Source.EMBEDDED,
}


class BackendError(ValueError):
    """ORDERS_TEST_BACKEND is unknown, or asks for what this machine does not give."""


@dataclass(frozen=True)
class Backend:
    postgres: Source
    kafka: Source

    def __str__(self) -> str:
        return f"PostgreSQL {self.postgres.value}, Kafka {self.kafka.value}"


def choose_backend(environ: Mapping[str, str], docker_reachable: Callable[[], bool]) -> Backend:
    """Where each server comes from, as the module's docstring says; BackendError if
    ORDERS_TEST_BACKEND is unknown or cannot be had. An empty variable is an unset one."""
    wanted = environ.get(VARIABLE, "").strip().lower()
    if wanted not in CHOICES:
        known = ", ".join(name for name in CHOICES if name)
        raise BackendError(f"{VARIABLE}={environ[VARIABLE]!r} is not one of {known}")
    forced = CHOICES[wanted]
    given = {name: bool(environ.get(name)) for name in (DATABASE_URL, KAFKA_BOOTSTRAP_SERVERS)}
    docker = functools.cache(docker_reachable)
    if forced is Source.EXTERNAL:
        missing = [name for name, is_set in given.items() if not is_set]
        if missing:
            raise BackendError(f"{VARIABLE}=external needs {' and '.join(missing)}")
        return Backend(Source.EXTERNAL, Source.EXTERNAL)
    if forced is Source.CONTAINERS:
        if not docker():
            raise BackendError(f"{VARIABLE}={wanted} needs a Docker engine, and none answers")
        return Backend(Source.CONTAINERS, Source.CONTAINERS)
    if forced is Source.EMBEDDED:
        return Backend(Source.EMBEDDED, Source.EMBEDDED)

    def auto(variable: str) -> Source:
        if given[variable]:
            return Source.EXTERNAL
        return Source.CONTAINERS if docker() else Source.EMBEDDED

    return Backend(postgres=auto(DATABASE_URL), kafka=auto(KAFKA_BOOTSTRAP_SERVERS))


def docker_reachable() -> bool:
    """True if a Docker engine answers a ping (DOCKER_HOST, or the default socket)."""
    try:
        import docker

        client = docker.from_env(timeout=5)
    except Exception:  # no docker package, no socket, a bad DOCKER_HOST
        return False
    try:
        return bool(client.ping())
    except Exception:
        return False
    finally:
        client.close()
