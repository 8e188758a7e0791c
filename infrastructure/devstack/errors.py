"""The one error the dev stack raises, carrying the log that explains it."""

from pathlib import Path


class DevStackError(RuntimeError):
    """A dev-stack component could not be started, stopped or found.

    Starting servers fails for reasons only their own logs explain (a port taken, a broken
    config), so the error names the log to read instead of echoing it.
    """

    def __init__(self, message: str, log_file: Path | None = None) -> None:
        super().__init__(message)
        self.log_file = log_file
