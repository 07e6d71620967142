"""Application factory: settings and the promoted bundle are loaded in `lifespan`, not at import."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from recsys.circles import default_catalogue_path, load_catalogue
from recsys.errors import (
    BundleError,
    NotFittedError,
    RecsysError,
    UnknownItemError,
    UnknownUserError,
)
from serving.routers import circles, health
from serving.settings import Settings
from serving.state import AppState

logger = logging.getLogger(__name__)

_STATUS = {
    UnknownUserError: 404,
    UnknownItemError: 404,
    BundleError: 503,
    NotFittedError: 503,
}


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        catalogue = load_catalogue(settings.circles_path or default_catalogue_path())
        app.state.recsys = AppState.load(settings, catalogue)
        yield

    app = FastAPI(title="recsys", version="0.1.0", lifespan=lifespan)
    app.include_router(health.router)
    app.include_router(circles.router)

    @app.exception_handler(RecsysError)
    async def _domain_error(request: Request, exc: RecsysError) -> JSONResponse:
        status = next((code for cls, code in _STATUS.items() if isinstance(exc, cls)), 400)
        return JSONResponse(
            status_code=status, content={"error": type(exc).__name__, "detail": str(exc)}
        )

    return app
