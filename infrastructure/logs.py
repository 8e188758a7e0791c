"""Every process's log lines: one format, and on each line the ids of the work it belongs to.

`configure(process)` is called once by each long-running command (`orders api`, `relay`,
`saga`, `gateway`, `projector`, the simulators). It writes JSON lines when stderr is not a
terminal (a supervisor's log file, a container's log), for machines to filter, and
structlog's console renderer when it is, for a person. The standard library's `logging`,
which the code, uvicorn and kafka-python log through, is routed through the same
processors, so a `logging.getLogger(__name__)` line comes out in the same format as a
structlog one, with the same fields.

The ids are context variables: `bound(...)` binds them for a block (one HTTP request, one
consumed record, one outbound call), and every line logged inside it carries them, whichever
logger writes it. A context variable stays with its thread or task: a worker thread binds
the ids of what it picks up, and a thread started inside the block starts without them.
"""

import logging
import sys
import time
from collections.abc import Callable, Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any, TextIO

import structlog
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from structlog.typing import Processor

# Libraries whose INFO narrates every connection or request: their warnings are enough.
QUIETER = ("kafka", "httpx", "httpcore")


def configure(process: str, stream: TextIO | None = None) -> None:
    """Log INFO and above of every logger to `stream` (stderr), as JSON lines unless it is a
    terminal; each line names `process`. Calling it again replaces the earlier setup."""
    out = stream or sys.stderr
    shared = _shared(process)
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,  # a later `configure` (a test's) must reach every logger
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder(), _drop_uvicorn_colours],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *_rendering(out)],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(logging.INFO)
    for name in QUIETER:
        logging.getLogger(name).setLevel(logging.WARNING)


@contextmanager
def bound(**ids: str | None) -> Iterator[None]:
    """Bind the ids that are known (an empty or None one is left out) to every line logged in
    this block, in this thread or task; the ids bound before are back afterwards."""
    with structlog.contextvars.bound_contextvars(**{name: value for name, value in ids.items() if value}):
        yield


# What an HTTP server reads of a request's headers: the ids to bind to its log lines (and keep
# in `request.state`), and the headers to answer with.
Identify = Callable[[Headers], tuple[dict[str, str], dict[str, str]]]


class RequestLogging:
    """ASGI middleware: each request's ids, as `identify` reads them, bound to every line logged
    while it is handled; the headers `identify` gives added to its answer, whatever the status;
    and one access line on `log` at the end: method, route template (as the metrics label it,
    never the path sent), status and duration."""

    def __init__(self, app: ASGIApp, identify: Identify, log: logging.Logger) -> None:
        self.app, self.identify, self.log = app, identify, log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        ids, answered = self.identify(Headers(scope=scope))
        scope.setdefault("state", {}).update(ids)
        started, status = time.perf_counter(), 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message).update(answered)
            await send(message)

        with bound(**ids):
            try:
                await self.app(scope, receive, sending)
            finally:
                self._access(scope, status, time.perf_counter() - started)

    def _access(self, scope: Scope, status: int, seconds: float) -> None:
        method, route = scope["method"], getattr(scope.get("route"), "path_format", "unmatched")
        duration_ms = round(seconds * 1000, 1)
        fields = {"method": method, "route": route, "status": status, "duration_ms": duration_ms}
        self.log.info("%s %s %d in %.1f ms", method, route, status, duration_ms, extra=fields)


def _shared(process: str) -> list[Processor]:
    """What every line gets, from structlog or from `logging` alike."""

    def name_process(_: Any, __: str, line: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        line["process"] = process
        return line

    return [
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.stdlib.add_log_level,
        name_process,
        structlog.stdlib.add_logger_name,
        structlog.processors.CallsiteParameterAdder([structlog.processors.CallsiteParameter.THREAD_NAME]),
        structlog.contextvars.merge_contextvars,
    ]


def _rendering(out: TextIO) -> list[Processor]:
    """JSON for a file or a pipe: the text under "message" (structlog says "event", which
    here would read as a domain event), a traceback as one string. Colours for a terminal,
    and tracebacks without the locals (they may hold keys and passwords)."""
    if out.isatty():
        tracebacks = structlog.dev.RichTracebackFormatter(show_locals=False)
        return [structlog.dev.ConsoleRenderer(exception_formatter=tracebacks)]
    return [
        structlog.processors.format_exc_info,
        structlog.processors.EventRenamer("message"),
        structlog.processors.JSONRenderer(),
    ]


def _drop_uvicorn_colours(_: Any, __: str, line: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """uvicorn passes its message again, with terminal colour codes, as an extra field."""
    line.pop("color_message", None)
    return line
