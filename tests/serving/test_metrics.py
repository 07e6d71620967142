"""/metrics counts requests per route template, answers per fallback step and the model served."""

from __future__ import annotations

import asyncio
import threading

from prometheus_client.parser import text_string_to_metric_families
from threadpoolctl import threadpool_info

from tests.serving.conftest import auth, models_with


def _samples(client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = client.get("/metrics").text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_metrics_count_routes_steps_and_the_model(tmp_path, trained, client_for) -> None:
    client = client_for(models_with(tmp_path, trained.first, promote=trained.first))
    for user in trained.users[:3]:
        client.get(f"/v1/users/{user}/recommendations?limit=2", headers=auth())
    client.get("/v1/users/nobody-at-all/recommendations", headers=auth())
    client.get("/v1/users/nobody-at-all/circles", headers=auth())
    client.get("/v1/circles")
    samples = _samples(client)

    route = "/v1/users/{user_id}/recommendations"
    key = ("recsys_http_requests_total", (("method", "GET"), ("route", route), ("status", "200")))
    assert samples[key] == 4.0
    circles = "/v1/users/{user_id}/circles"
    assert (
        samples[
            (
                "recsys_http_requests_total",
                (("method", "GET"), ("route", circles), ("status", "404")),
            )
        ]
        == 1.0
    )
    assert (
        samples[
            (
                "recsys_http_requests_total",
                (("method", "GET"), ("route", "/v1/circles"), ("status", "401")),
            )
        ]
        == 1.0
    )
    count = ("recsys_http_request_duration_seconds_count", (("method", "GET"), ("route", route)))
    assert samples[count] == 4.0

    steps = {
        dict(labels)["step"]: value
        for (name, labels), value in samples.items()
        if name == "recsys_recommendation_answers_total"
    }
    assert sum(steps.values()) == 4.0
    assert steps.get("global_chain", 0.0) >= 1.0, steps
    model = ("recsys_model_info", (("version", trained.first.name),))
    assert samples[model] == 1.0
    assert samples[("recsys_model_swaps_total", (("outcome", "loaded"),))] == 1.0


def test_model_calls_run_with_blas_and_openmp_pinned(tmp_path, client_for) -> None:
    client = client_for(models_with(tmp_path), blas_threads=1, compute_threads=2)
    compute = client.app.state.recsys.compute
    both = threading.Barrier(2)  # holds each call until both threads of the pool run one

    def probe() -> tuple[str, list[dict]]:
        both.wait(timeout=10)
        return threading.current_thread().name, threadpool_info()

    async def on_every_thread() -> list[tuple[str, list[dict]]]:
        return await asyncio.gather(compute.run(probe), compute.run(probe))

    answers = client.portal.call(on_every_thread)
    assert len({name for name, _ in answers}) == 2
    for _, pools in answers:
        assert pools and all(pool["num_threads"] == 1 for pool in pools), pools
