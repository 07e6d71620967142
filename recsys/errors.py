"""Domain exceptions: every error the library raises on purpose is one of these.

Pipelines turn them into exit codes and serving maps them to HTTP codes in one handler; the
library never raises transport-level errors itself.
"""

from __future__ import annotations


class RecsysError(Exception):
    """Base of every recsys error."""


class ConfigError(RecsysError):
    """A configuration file or value is invalid (unknown key, wrong type, out of range)."""


class ContractError(RecsysError):
    """Data does not follow the data contract (missing column, wrong type, unknown table)."""


class UnusableFileError(ContractError):
    """A whole input file cannot be used; names the file, and the row and field when known."""

    def __init__(
        self, path: str, reason: str, *, row: int | None = None, field: str | None = None
    ) -> None:
        self.path = path
        self.reason = reason
        self.row = row
        self.field = field
        where = path
        if row is not None:
            where += f", row {row}"
        if field is not None:
            where += f", field '{field}'"
        super().__init__(f"{where}: {reason}")


class InvalidInputError(RecsysError, ValueError):
    """An argument of a library call is invalid: wrong shape, out of range, nothing to work on.

    A ValueError too, so code written against numpy-style errors keeps working; callers that
    catch RecsysError (the pipelines, the server's one handler) get a clear message, not a
    traceback.
    """


class MissingInputError(RecsysError, KeyError):
    """An input lacks a named part the call needs (e.g. an engagement kind)."""

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0]) if self.args else ""


class NotFittedError(RecsysError):
    """A model was used before `fit` (or `load`)."""


class UnknownUserError(RecsysError, KeyError):
    """A user id is not known to the model or data set."""


class UnknownItemError(RecsysError, KeyError):
    """An item id is not known to the model or data set."""


class UnknownGroupError(RecsysError, KeyError):
    """A group buy id is not known to the model or the live store."""


class RequestFieldError(InvalidInputError):
    """One field of a request is invalid in a way only the model can tell (the server's 422
    names `field`)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class UnavailableError(RecsysError):
    """The bundle cannot give this answer at all (e.g. share targets from data without group
    buys or friends); the message says why."""


class BundleError(RecsysError):
    """A model bundle is missing, partial, corrupt or inconsistent."""


class PromotionRefusedError(BundleError):
    """Promoting a bundle was refused (for example its metrics regress beyond tolerance)."""


class BundleFormatError(BundleError):
    """A bundle was written in another format version than this code reads."""


class BundleSignatureError(BundleError):
    """A bundle's manifest is unsigned, signed with another key, or altered since signing."""


class InvalidCursorError(RecsysError):
    """A page cursor is malformed, altered, or was made for another user or feed."""

    field = "cursor"


class UnknownCircleError(RecsysError, KeyError):
    """A circle id is not in the model's circle catalogue."""


class EngineError(RecsysError):
    """The chosen execution engine cannot run here (Spark without Java or pyspark)."""


class ScopeError(RecsysError):
    """A request names something outside the caller's scope (another merchant's items,
    brands, customers or jobs). The message is the same whether the id belongs to someone else
    or does not exist at all, so a refusal tells nothing about what exists."""


class SegmentTooSmallError(RecsysError):
    """An audience segment would hold fewer users than the configured floor."""
