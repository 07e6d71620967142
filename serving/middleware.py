"""The two ASGI middlewares: request metrics, and the model version header of /v1 answers.

Plain ASGI (not BaseHTTPMiddleware): they see the answers the exception handlers make, cost
little per request, and read the route template and request state from the scope.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from serving.deps import MODEL_VERSION_HEADER
from serving.metrics import ServingMetrics

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class RequestMetrics:
    """Counts and times every HTTP request by its route template (not its raw path).

    A plain ASGI middleware: it sees the status of answers made by the exception handlers too,
    and a request that raised past them counts as a 500.
    """

    def __init__(self, app: ASGIApp, metrics: ServingMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope.get("method", "")
            self.metrics.requests.labels(route=template, method=method, status=str(status)).inc()
            self.metrics.latency.labels(route=template, method=method).observe(
                time.perf_counter() - start
            )


class ModelVersionHeader:
    """Adds X-Model-Version to every /v1 answer, errors included.

    The version is the one the request answered with (set by the model dependency); an answer
    refused before it took a model (bad key, bad input) names the model currently loaded.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v1/"):
            await self.app(scope, receive, send)
            return

        async def add_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                version = scope.get("state", {}).get("model_version")
                if version is None:
                    state = getattr(scope["app"].state, "recsys", None)
                    model = state.store.current if state is not None else None
                    version = model.version if model is not None else None
                if version is not None:
                    headers = list(message.get("headers", []))
                    headers.append((MODEL_VERSION_HEADER.lower().encode(), version.encode()))
                    message["headers"] = headers
            await send(message)

        await self.app(scope, receive, add_header)
