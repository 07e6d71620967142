"""One JSON error shape for every failure, and the one place that maps errors to HTTP codes.

Every error answer is ``{"error": {"code", "message", "field"}}``. The library raises domain
errors (`recsys.errors`); serving raises `ApiError` for its own refusals (keys, readiness). An
unknown user or item is a 404, invalid input a 422 naming the field, never a 500.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from recsys.errors import (
    BundleError,
    InvalidCursorError,
    InvalidInputError,
    NotFittedError,
    RecsysError,
    RequestFieldError,
    ScopeError,
    SegmentTooSmallError,
    UnavailableError,
    UnknownCircleError,
    UnknownGroupError,
    UnknownItemError,
    UnknownUserError,
)
from serving.schemas.errors import ErrorBody, ErrorResponse

logger = logging.getLogger(__name__)

#: Library error -> (HTTP status, error code); the first matching class wins.
_DOMAIN: tuple[tuple[type[RecsysError], int, str], ...] = (
    (UnknownUserError, 404, "unknown_user"),
    (UnknownItemError, 404, "unknown_item"),
    (UnknownGroupError, 404, "unknown_group"),
    (UnavailableError, 503, "unavailable"),
    (UnknownCircleError, 404, "unknown_circle"),
    (InvalidCursorError, 422, "invalid_request"),
    (BundleError, 503, "not_ready"),
    (NotFittedError, 503, "not_ready"),
    (ScopeError, 403, "forbidden"),
    (SegmentTooSmallError, 422, "segment_too_small"),
    (InvalidInputError, 422, "invalid_request"),
)
_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    503: "not_ready",
}


class ApiError(Exception):
    """A refusal of the API itself (bad key, wrong role, no model loaded)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def error_response(status: int, code: str, message: str, field: str | None = None) -> JSONResponse:
    body = ErrorResponse(error=ErrorBody(code=code, message=message, field=field))
    return JSONResponse(status_code=status, content=body.model_dump(mode="json", exclude_none=True))


def _message(exc: Exception) -> str:
    # KeyError subclasses quote their str(); the plain message reads better in JSON.
    return exc.args[0] if exc.args and isinstance(exc.args[0], str) else str(exc)


def _field(loc: tuple[object, ...]) -> str:
    """("query", "limit") -> "limit"; ("body", "a", 0) -> "a.0" (the name the caller used)."""
    parts = [str(p) for p in loc[1:]] if len(loc) > 1 else [str(p) for p in loc]
    return ".".join(parts)


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that turn every failure into the one error shape."""

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message)

    @app.exception_handler(RecsysError)
    async def _domain_error(request: Request, exc: RecsysError) -> JSONResponse:
        if isinstance(exc, RequestFieldError):
            return error_response(422, "invalid_request", _message(exc), exc.field)
        for cls, status, code in _DOMAIN:
            if isinstance(exc, cls):
                return error_response(status, code, _message(exc), getattr(exc, "field", None))
        logger.error("unexpected library error on %s: %s", request.url.path, exc)
        return error_response(500, "internal", "internal error")

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
        field = _field(tuple(first.get("loc", ())))
        message = "; ".join(f"{_field(tuple(e['loc']))}: {e['msg']}" for e in errors)
        return error_response(422, "invalid_request", message or "invalid request", field)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        response = error_response(exc.status_code, code, str(exc.detail))
        if exc.headers:
            response.headers.update(exc.headers)
        return response

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error on %s", request.url.path)
        return error_response(500, "internal", "internal error")
