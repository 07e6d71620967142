"""The one error shape every failure answers with."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ErrorBody(BaseModel):
    code: str = Field(description="Stable machine-readable code, e.g. unknown_user, forbidden.")
    message: str = Field(description="One line for a person: what was wrong and what is expected.")
    field: str | None = Field(None, description="The request field at fault (422 answers).")


class ErrorResponse(BaseModel):
    error: ErrorBody


#: OpenAPI `responses=` entries for the error codes every /v1 route can answer.
V1_ERRORS: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorResponse, "description": "X-API-Key missing or unknown"},
    403: {"model": ErrorResponse, "description": "The key's role may not call this route"},
    422: {"model": ErrorResponse, "description": "Invalid input; `field` names it"},
    503: {"model": ErrorResponse, "description": "No verified bundle is loaded"},
}
NOT_FOUND: dict[int | str, dict[str, object]] = {
    404: {"model": ErrorResponse, "description": "Unknown id"},
}
