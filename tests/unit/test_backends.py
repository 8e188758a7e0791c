"""Where the integration tests' servers come from (tests/support/backends.py): every
combination of ORDERS_TEST_BACKEND, the two server variables and a Docker engine that answers
or not, and what this machine itself resolves to."""

import itertools
import time

import pytest
from support.backends import (
    DATABASE_URL,
    KAFKA_BOOTSTRAP_SERVERS,
    VARIABLE,
    Backend,
    BackendError,
    Source,
    choose_backend,
    docker_reachable,
)

EXTERNAL, CONTAINERS, EMBEDDED = Source.EXTERNAL, Source.CONTAINERS, Source.EMBEDDED
URLS = {DATABASE_URL: "postgresql://u:p@db:5432/orders", KAFKA_BOOTSTRAP_SERVERS: "kafka:9092"}
AUTO = (None, "", "auto", "AUTO", " auto ")  # unset, empty, or said


class Docker:
    """A Docker engine that answers or not, counting how often it is asked."""

    def __init__(self, answers: bool) -> None:
        self.answers, self.asked = answers, 0

    def __call__(self) -> bool:
        self.asked += 1
        return self.answers


def environ(backend: str | None, database: bool, kafka: bool) -> dict[str, str]:
    given = {VARIABLE: backend} if backend is not None else {}
    given |= {DATABASE_URL: URLS[DATABASE_URL]} if database else {}
    return given | ({KAFKA_BOOTSTRAP_SERVERS: URLS[KAFKA_BOOTSTRAP_SERVERS]} if kafka else {})


SERVERS = list(itertools.product([False, True], repeat=2))  # (DATABASE_URL set, KAFKA_... set)


@pytest.mark.parametrize("backend", AUTO)
@pytest.mark.parametrize(("database", "kafka"), SERVERS)
@pytest.mark.parametrize("answers", [False, True])
def test_auto_takes_each_server_from_its_variable_else_docker_else_embedded(
    backend: str | None, database: bool, kafka: bool, answers: bool
) -> None:
    docker = Docker(answers)
    otherwise = CONTAINERS if answers else EMBEDDED

    chosen = choose_backend(environ(backend, database, kafka), docker)

    assert chosen == Backend(EXTERNAL if database else otherwise, EXTERNAL if kafka else otherwise)
    assert docker.asked == (0 if database and kafka else 1)  # asked only if it matters, and once


@pytest.mark.parametrize(("database", "kafka"), SERVERS)
@pytest.mark.parametrize("answers", [False, True])
def test_embedded_is_embedded_whatever_is_set_and_asks_no_docker(
    database: bool, kafka: bool, answers: bool
) -> None:
    docker = Docker(answers)
    assert choose_backend(environ("embedded", database, kafka), docker) == Backend(EMBEDDED, EMBEDDED)
    assert docker.asked == 0


@pytest.mark.parametrize("backend", ["containers", "testcontainers", "Containers"])
@pytest.mark.parametrize(("database", "kafka"), SERVERS)
def test_containers_are_containers_whatever_is_set_when_docker_answers(
    backend: str, database: bool, kafka: bool
) -> None:
    chosen = choose_backend(environ(backend, database, kafka), Docker(True))
    assert chosen == Backend(CONTAINERS, CONTAINERS)


@pytest.mark.parametrize(("database", "kafka"), SERVERS)
def test_containers_without_docker_is_an_error_not_a_quiet_fallback(database: bool, kafka: bool) -> None:
    with pytest.raises(BackendError, match="needs a Docker engine"):
        choose_backend(environ("containers", database, kafka), Docker(False))


@pytest.mark.parametrize("answers", [False, True])
def test_external_takes_both_variables_and_asks_no_docker(answers: bool) -> None:
    docker = Docker(answers)
    assert choose_backend(environ("external", True, True), docker) == Backend(EXTERNAL, EXTERNAL)
    assert docker.asked == 0


@pytest.mark.parametrize(
    ("database", "kafka", "missing"),
    [
        (False, False, f"{DATABASE_URL} and {KAFKA_BOOTSTRAP_SERVERS}"),
        (True, False, KAFKA_BOOTSTRAP_SERVERS),
        (False, True, DATABASE_URL),
    ],
)
@pytest.mark.parametrize("answers", [False, True])
def test_external_without_a_variable_names_it(
    database: bool, kafka: bool, missing: str, answers: bool
) -> None:
    with pytest.raises(BackendError, match=f"external needs {missing}$"):
        choose_backend(environ("external", database, kafka), Docker(answers))


def test_an_empty_server_variable_is_an_unset_one() -> None:
    given = {DATABASE_URL: "", KAFKA_BOOTSTRAP_SERVERS: URLS[KAFKA_BOOTSTRAP_SERVERS]}
    assert choose_backend(given, Docker(False)) == Backend(EMBEDDED, EXTERNAL)
    with pytest.raises(BackendError, match=f"needs {DATABASE_URL}$"):
        choose_backend({**given, VARIABLE: "external"}, Docker(False))


@pytest.mark.parametrize("backend", ["docker", "kubernetes", "embeded"])
def test_an_unknown_choice_is_an_error_naming_the_known_ones(backend: str) -> None:
    with pytest.raises(BackendError, match="is not one of auto, external, containers"):
        choose_backend({VARIABLE: backend}, Docker(True))


def test_here_with_no_docker_engine_auto_is_the_embedded_stack_or_the_variables() -> None:
    """What this machine resolves to, asking the real engine (there is none here)."""
    if docker_reachable():
        pytest.skip("a Docker engine answers here: auto would start containers")
    assert choose_backend({}, docker_reachable) == Backend(EMBEDDED, EMBEDDED)
    assert choose_backend({VARIABLE: "auto", **URLS}, docker_reachable) == Backend(EXTERNAL, EXTERNAL)
    assert choose_backend({DATABASE_URL: URLS[DATABASE_URL]}, docker_reachable) == Backend(EXTERNAL, EMBEDDED)
    with pytest.raises(BackendError):
        choose_backend({VARIABLE: "containers"}, docker_reachable)


def test_an_engine_that_does_not_answer_is_no_engine_and_says_so_quickly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:1")  # nothing listens on port 1
    started = time.monotonic()
    assert docker_reachable() is False
    assert time.monotonic() - started < 5
