"""Liveness and readiness answers."""

from __future__ import annotations

from pydantic import BaseModel


class Alive(BaseModel):
    status: str = "ok"


class Ready(BaseModel):
    status: str = "ready"
    model_version: str
