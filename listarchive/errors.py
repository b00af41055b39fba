"""Expected outcomes, named, caught at the boundary (CLI exit codes, HTTP statuses, quarantine)."""


class ListarchiveError(Exception):
    """Base of every expected failure."""


class ConfigError(ListarchiveError):
    """The configuration is invalid; the message names the offending key."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"config key {key!r}: {reason}")
        self.key = key
        self.reason = reason


class MalformedMessage(ListarchiveError):
    """The bytes cannot be read as a mail message at all (goes to quarantine)."""


class SourceError(ListarchiveError):
    """A mail source cannot be opened or read (missing file, not a git repository...)."""


class TemporaryFailure(ListarchiveError):
    """The store is busy or unavailable; the mail server should retry later (EX_TEMPFAIL)."""


class IndexBusy(TemporaryFailure):
    """Another process holds the search index's write lock past the time allowed to wait."""


class SearchUnavailable(ListarchiveError):
    """Search is switched off, or the search index is missing, still being built, or was built
    by another engine than the configuration names (the message says what to run)."""


class QueryError(ListarchiveError):
    """A search query cannot be parsed or is refused; the message says where and why."""

    def __init__(self, message: str, position: int | None = None) -> None:
        super().__init__(message if position is None else f"{message} (at character {position + 1})")
        self.position = position


class NotFound(ListarchiveError):
    """The object does not exist for this user: unknown and hidden look the same (404)."""


class Forbidden(ListarchiveError):
    """The user may see the object but not make this change (403)."""


class InvalidChange(ListarchiveError):
    """The change itself makes no sense: an unknown state, a user to delegate to who does not
    exist, a filter value no query can mean (400)."""
