"""Errors of the projections package that an operator can act on; each message says what to do."""


class ProjectionError(Exception):
    """Base of the errors the `orders` command line reports in one line."""


class UnknownProjectionError(ProjectionError):
    pass


class UnknownDeadLetterError(ProjectionError):
    pass


class DeadLetterError(ProjectionError):
    """A dead letter cannot be retried or discarded now; the message says why."""


class ReplayStalledError(ProjectionError):
    """Reading the topics to their end made no progress in time."""
