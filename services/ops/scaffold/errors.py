"""The one error the generator raises: why it refused, in one line, having changed nothing."""


class ScaffoldError(Exception):
    """A name that is invalid or taken, or a repository not in the shape the generator edits;
    or a write that failed, after which everything written was taken back."""
