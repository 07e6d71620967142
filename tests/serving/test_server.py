"""The real server: `recsys serve` under uvicorn on a loopback port, called over HTTP.

The swap test runs 2 workers, keeps a bounded loop of requests going while a bundle trained with
another seed is promoted, and checks that no answer failed and that every body is exactly the
in-process answer of the version its X-Model-Version names (so no answer mixes two versions).
A corrupt bundle's promotion is then refused by every worker and the old version keeps answering.
"""

from __future__ import annotations

import json
import re
import threading
import time

import httpx
from prometheus_client.parser import text_string_to_metric_families

from recsys.bundle.registry import ModelRegistry
from recsys.runtime import RuntimeModel
from tests.serving.conftest import (
    MERCHANT_KEY,
    auth,
    corrupt,
    in_process,
    models_with,
    write_pointer,
)

#: Bounds of the load loop: threads, requests per thread and seconds at most; answers before the
#: promotion, and how many answers in a row from the new bundle count as "every worker swapped".
THREADS = 4
MAX_REQUESTS_PER_THREAD = 100_000
REQUESTS_PER_CONNECTION = 10
MAX_SECONDS = 60.0
BEFORE_SWAP = 100
SETTLED = 40


def _paths(trained) -> list[str]:
    paths = [f"/v1/users/{u}/recommendations?limit=10" for u in trained.users]
    paths += [f"/v1/users/{u}/circles" for u in trained.users[:3]]
    paths += [f"/v1/items/{i}/similar?limit=5" for i in trained.items]
    return [*paths, "/v1/users/nobody-at-all/recommendations?limit=5", "/v1/circles"]


def _metric(url: str, name: str, **labels: str) -> list[float]:
    text = httpx.get(f"{url}/metrics", timeout=5).text
    return [
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    ]


def test_real_server_answers_over_http(tmp_path, trained, server_for) -> None:
    """As `make serve` starts it: a local key file is made and the printed example calls work."""
    models = models_with(tmp_path, trained.first, promote=trained.first)
    keys_file = tmp_path / "dot-recsys" / "api-keys.json"
    flags = ("--keys-file", str(keys_file), "--create-key", "--examples")
    server = server_for(models, workers=1, extra_args=flags)
    model = RuntimeModel.load(models / trained.first.name)
    printed = server.log.read_text()
    key = re.search(r"service key: (\S+)", printed).group(1)
    assert json.loads(keys_file.read_text()) == {key: "service"}
    examples = re.findall(r"curl -s -H \"X-API-Key: (\S+)\" '([^']+)'", printed)
    assert len(examples) == 4 and {k for k, _ in examples} == {key}
    with httpx.Client(timeout=10) as http:
        for _, url in examples:
            response = http.get(url, headers=auth(key))
            assert response.status_code == 200, (url, response.text)
            assert response.headers["x-model-version"] == model.version
            assert response.json() == in_process(model, url.removeprefix(server.url))
            assert response.json().get("items", [None]) != [], url
    with httpx.Client(base_url=server.url, timeout=10) as http:
        for path in _paths(trained)[::3]:
            response = http.get(path, headers=auth())  # RECSYS_API_KEYS still counts
            assert response.status_code == 200, (path, response.text)
            assert response.json() == in_process(model, path)
        assert http.get("/v1/circles").status_code == 401
        assert http.get(_paths(trained)[0], headers=auth(MERCHANT_KEY)).status_code == 403
        bad = http.get(f"/v1/users/{trained.users[0]}/recommendations?limit=0", headers=auth())
        assert bad.status_code == 422 and bad.json()["error"]["field"] == "limit"
        assert http.get("/healthz").json() == {"status": "ok"}
        assert http.get("/docs").status_code == 200
    assert server.stop() == 0


def test_swap_under_load_with_two_workers(tmp_path, trained, server_for) -> None:
    models = models_with(tmp_path, trained.first, trained.second, promote=trained.first)
    server = server_for(models, workers=2, poll_interval=0.2)
    expected = {
        m.version: {path: in_process(m, path) for path in _paths(trained)}
        for m in (RuntimeModel.load(models / b.name) for b in (trained.first, trained.second))
    }
    paths = _paths(trained)
    answers: list[tuple[str, int, str | None, dict]] = []
    lock = threading.Lock()
    stop = threading.Event()
    deadline = time.monotonic() + MAX_SECONDS

    def load(offset: int) -> None:
        # A new connection every REQUESTS_PER_CONNECTION requests spreads them over both
        # workers without a connection per request (which, on a busy machine, churned sockets
        # until the loopback reset some).
        n = 0
        while n < MAX_REQUESTS_PER_THREAD and not stop.is_set() and time.monotonic() < deadline:
            with httpx.Client(base_url=server.url, timeout=10) as c:
                for _ in range(REQUESTS_PER_CONNECTION):
                    if stop.is_set() or time.monotonic() > deadline:
                        break
                    path = paths[(offset + n) % len(paths)]
                    n += 1
                    r = c.get(path, headers=auth())
                    with lock:
                        answers.append(
                            (path, r.status_code, r.headers.get("x-model-version"), r.json())
                        )

    threads = [threading.Thread(target=load, args=(k * 5,)) for k in range(THREADS)]
    for thread in threads:
        thread.start()
    while len(answers) < BEFORE_SWAP and time.monotonic() < deadline:
        time.sleep(0.01)
    ModelRegistry(models).promote(trained.second.name, force=True)
    # Run on until both workers report the swap (2 first loads + 2 swaps), then until the
    # last answers all come from the new bundle. Time bounds the load, not a request count,
    # so a fast machine cannot run out of requests before the slower worker has swapped.
    while time.monotonic() < deadline and any(t.is_alive() for t in threads):
        if sum(_metric(server.url, "recsys_model_swaps_total", outcome="loaded")) >= 4:
            break
        time.sleep(0.1)
    swapped_at = len(answers)
    while time.monotonic() < deadline and any(t.is_alive() for t in threads):
        with lock:
            recent = [v for _, _, v, _ in answers[max(swapped_at, len(answers) - SETTLED) :]]
        if len(recent) == SETTLED and set(recent) == {trained.second.name}:
            break
        time.sleep(0.05)
    stop.set()
    for thread in threads:
        thread.join()

    failed = [(p, s) for p, s, _, _ in answers if not 200 <= s < 300]
    assert not failed, failed[:5]
    for path, _, version, body in answers:
        assert version in expected, version
        assert body == expected[version][path], (path, version)
    versions = [version for _, _, version, _ in answers]
    assert set(versions[:BEFORE_SWAP]) == {trained.first.name}
    assert set(versions[-SETTLED:]) == {trained.second.name}, "not every worker swapped in time"

    # A corrupt bundle's promotion is refused by both workers; the old version keeps answering.
    corrupt(models / trained.first.name)
    write_pointer(models, trained.first.name)
    wait_until = time.monotonic() + 30
    while sum(_metric(server.url, "recsys_model_swaps_total", outcome="refused")) < 2:
        assert time.monotonic() < wait_until, "workers did not refuse the corrupt bundle"
        time.sleep(0.2)
    with httpx.Client(base_url=server.url, timeout=10, headers={"Connection": "close"}) as c:
        for path in paths:
            r = c.get(path, headers=auth())
            assert r.status_code == 200
            assert r.headers["x-model-version"] == trained.second.name
            assert r.json() == expected[trained.second.name][path]
        assert c.get("/readyz").json()["model_version"] == trained.second.name
    served = _metric(server.url, "recsys_model_info", version=trained.second.name)
    assert served == [1.0, 1.0], "both workers serve the second bundle"
    assert server.stop() == 0
