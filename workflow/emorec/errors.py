"""The exception types the pipeline raises, so callers can tell bad input from bugs."""


class EmorecError(Exception):
    """Base class for every error this package raises on purpose."""


class ParamsError(EmorecError):
    """``params.yaml`` (or a ``--configfile``) has a missing, unknown or ill-typed key."""


class DataError(EmorecError):
    """An input archive or table cannot be used (missing, corrupt, too many rejects)."""
