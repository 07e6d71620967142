"""Prometheus metrics of one app, summed over every worker process.

`recsys serve` points PROMETHEUS_MULTIPROC_DIR at a fresh folder before its workers start; each
worker then writes its samples there and `/metrics` (answered by any one worker) reads them all.
Without that variable (tests, a single in-process app) the app's own registry is exposed.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
#: Request latency buckets (seconds): in-process answers take around a millisecond.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


def multiprocess_mode() -> bool:
    return bool(os.environ.get(MULTIPROC_ENV))


class ServingMetrics:
    """The metrics one app records; built per app so tests can build many apps in a process."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "recsys_http_requests",
            "HTTP requests answered, by route template, method and status code.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "recsys_http_request_duration_seconds",
            "Time to answer a request, by route template and method.",
            ["route", "method"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.model = Gauge(
            "recsys_model_info",
            "1 for the bundle version a worker serves, 0 for versions it served before.",
            ["version"],
            multiprocess_mode="liveall",
            registry=self.registry,
        )
        self.answers = Counter(
            "recsys_recommendation_answers",
            "Recommendation answers by the policy step that produced them "
            "(ranked, scorer, fold_in, circle_chain, global_chain).",
            ["step"],
            registry=self.registry,
        )
        self.swaps = Counter(
            "recsys_model_swaps",
            "Bundle loads by outcome: loaded (now serving) or refused (corrupt, unsigned, "
            "incompatible or missing; the previous bundle keeps serving). Counted per worker.",
            ["outcome"],
            registry=self.registry,
        )

    def serving(self, version: str, previous: str | None) -> None:
        if previous is not None:
            self.model.labels(version=previous).set(0)
        self.model.labels(version=version).set(1)

    def render(self) -> tuple[bytes, str]:
        """The exposition text: of every worker in multiprocess mode, else of this app."""
        if multiprocess_mode():
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    @staticmethod
    def worker_exit() -> None:
        """Drop this worker's live gauges, so /metrics stops listing a worker that left."""
        if multiprocess_mode():
            multiprocess.mark_process_dead(os.getpid())
