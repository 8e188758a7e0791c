"""Every process's log lines (`infrastructure/logs.py`): JSON lines off a terminal, the console
renderer on one, the same fields from structlog and from the standard library's `logging`, and
the ids bound for a block on every line logged inside it."""

import logging
import os
import threading
from collections.abc import Iterator
from typing import TextIO

import pytest
import structlog
from support.logs import captured, restored

from infrastructure import logs


@pytest.fixture
def terminal() -> Iterator[tuple[int, TextIO]]:
    """A pseudo-terminal: what is written to its end `stream` is read from `reader`."""
    reader, writer = os.openpty()
    with open(writer, "w", buffering=1) as stream:
        yield reader, stream
    os.close(reader)


def test_a_line_off_a_terminal_is_json_naming_its_process_level_logger_and_message() -> None:
    with captured("relay") as lines:
        logging.getLogger("infrastructure.relay").warning("lost the %s lock", "orders")

    (line,) = lines()
    assert line["message"] == "lost the orders lock"
    assert (line["process"], line["level"], line["logger"]) == ("relay", "warning", "infrastructure.relay")
    assert line["thread_name"] == threading.current_thread().name
    assert line["timestamp"].endswith("Z")


def test_the_ids_bound_for_a_block_are_on_every_line_inside_it_and_gone_after() -> None:
    with captured() as lines:
        with logs.bound(request_id="r-1", correlation_id="flow-1", causation_id="", command_id=None):
            logging.getLogger("stdlib").info("from logging")
            structlog.get_logger("native").info("from structlog", sku="SKU-1")
            with logs.bound(command_id="c-2", correlation_id="flow-2"):
                logging.getLogger("stdlib").info("nested")
            logging.getLogger("stdlib").info("restored")
        logging.getLogger("stdlib").info("outside")

    ids = [{k: v for k, v in line.items() if k.endswith("_id")} for line in lines()]
    assert ids == [
        {"request_id": "r-1", "correlation_id": "flow-1"},
        {"request_id": "r-1", "correlation_id": "flow-1"},
        {"request_id": "r-1", "correlation_id": "flow-2", "command_id": "c-2"},
        {"request_id": "r-1", "correlation_id": "flow-1"},
        {},
    ]
    assert lines.saying("from structlog")[0]["sku"] == "SKU-1"


def test_a_thread_binds_its_own_ids_and_sees_none_of_another_s() -> None:
    def work() -> None:
        with logs.bound(event_id="e-1"):
            logging.getLogger("worker").info("in the worker")

    with captured() as lines, logs.bound(request_id="main's"):
        worker = threading.Thread(target=work)
        worker.start()
        worker.join()

    (line,) = lines()
    assert line["event_id"] == "e-1"
    assert "request_id" not in line


def test_extra_fields_and_a_traceback_are_fields_of_the_line() -> None:
    with captured() as lines:
        try:
            raise ValueError("broken")
        except ValueError:
            logging.getLogger("x").exception("failed", extra={"status": 500, "route": "/v1/orders"})

    (line,) = lines()
    assert (line["status"], line["route"]) == (500, "/v1/orders")
    assert line["exception"].startswith("Traceback") and "ValueError: broken" in line["exception"]


def test_info_is_logged_debug_is_not_and_the_chatty_libraries_only_warn() -> None:
    with captured() as lines:
        logging.getLogger("app").debug("debug")
        logging.getLogger("app").info("info")
        logging.getLogger("kafka.conn").info("connecting")
        logging.getLogger("httpx").warning("refused")

    assert [line["message"] for line in lines()] == ["info", "refused"]


def test_on_a_terminal_lines_are_for_a_person_with_the_bound_ids(terminal: tuple[int, TextIO]) -> None:
    reader, stream = terminal
    with restored():
        logs.configure("saga", stream)
        with logs.bound(correlation_id="flow-9"):
            logging.getLogger("saga").warning("parked a record")

    shown = os.read(reader, 4096).decode()
    assert "parked a record" in shown and "flow-9" in shown and "saga" in shown
    assert not shown.lstrip().startswith("{")
