"""Application factory: settings are read and the promoted bundle loaded in `lifespan`.

`create_app()` is the uvicorn factory (`serving.app:create_app`); with several workers each
worker process calls it, builds its own Settings from RECSYS_ variables, loads the promoted
bundle and follows PROMOTED with its own watcher.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from pydantic import ValidationError
from threadpoolctl import threadpool_limits
from uvicorn.config import STARTUP_FAILURE

from recsys.runtime import RuntimePolicy
from serving.auth import KeyRing
from serving.compute import ComputePool
from serving.deps import AppState
from serving.docs import offline_app, with_reason_codes
from serving.errors import install_error_handlers
from serving.feeds import FeedState
from serving.live import LiveState
from serving.metrics import ServingMetrics
from serving.middleware import ModelVersionHeader, RequestMetrics
from serving.model_store import ModelStore
from serving.routers import circles, events, feeds, health, items, metrics, segments, share, users
from serving.segment_service import SegmentService
from serving.settings import Settings

logger = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or settings_from_env()
    app_metrics = ServingMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # BLAS pools that are process-wide (OpenBLAS) are sized here; the compute threads pin
        # their own per-thread (OpenMP) limits.
        threadpool_limits(limits=settings.blas_threads)
        compute = ComputePool(threads=settings.compute_threads, blas_threads=settings.blas_threads)
        store = ModelStore(
            settings.models_dir,
            policy=runtime_policy(settings),
            metrics=app_metrics,
            poll_interval=settings.poll_interval,
        )
        store.refresh()
        if not settings.api_keys:
            logger.warning("RECSYS_API_KEYS is empty: every /v1 call will be refused (401)")
        app.state.recsys = AppState(
            settings, KeyRing(settings.api_keys), store, app_metrics, compute
        )
        app.state.live = LiveState(settings)
        app.state.feeds = FeedState(settings)
        app.state.segments = SegmentService(settings, store)
        store.start()
        app.state.segments.start()
        try:
            yield
        finally:
            app.state.segments.stop()
            store.stop()
            app.state.live.close()
            compute.shutdown()
            app_metrics.worker_exit()

    app = offline_app(
        title="recsys",
        version="0.1.0",
        description="Recommendations and interest circles for social e-commerce.",
        lifespan=lifespan,
    )
    app.openapi = with_reason_codes(app)  # type: ignore[method-assign]
    install_error_handlers(app)
    for router in (
        health.router, metrics.router, users.router, items.router, circles.router,
        events.router, share.router, segments.router, feeds.router,
    ):
        app.include_router(router)
    app.add_middleware(ModelVersionHeader)
    app.add_middleware(RequestMetrics, metrics=app_metrics)
    return app


def runtime_policy(settings: Settings) -> RuntimePolicy:
    """The runtime's switches from the server's settings (0 turns a share rule off)."""
    return RuntimePolicy(
        unknown_user=settings.unknown_user,
        live_groups=settings.live_groups,
        share_max_suggestions=settings.share_max_suggestions or None,
        share_cap_window_days=settings.share_cap_window_days,
        share_bought_window_days=settings.share_bought_window_days or None,
    )


def settings_from_env() -> Settings:
    """Settings from RECSYS_ variables; a bad one stops the server with one line per problem."""
    try:
        return Settings()
    except ValidationError as exc:
        for error in exc.errors():
            name = "RECSYS_" + "_".join(str(p) for p in error["loc"][:1]).upper()
            logger.error("invalid setting %s: %s", name, error["msg"].removeprefix("Value error, "))
        # uvicorn stops every worker (and does not restart them) on this exit code.
        raise SystemExit(STARTUP_FAILURE) from None
