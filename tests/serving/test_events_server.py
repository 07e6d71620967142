"""Live events through a real `recsys serve` on a loopback port.

- The answer a known user with history gets is the bundle's ranked part's (the policy's ranked
  step), and a like posted over HTTP re-scores their next answer through it.

- A purchase posted to one worker disappears from that user's next answer in every worker
  (2 workers read one store; requests with `Connection: close` from several threads are spread
  over both, as in the swap test).
- Killing the server (SIGKILL, the whole process group) while batches are being posted loses no
  acknowledged event: every id a 200 answered `accepted` is in the store afterwards.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import threading
import time
from contextlib import closing
from datetime import UTC, datetime, timedelta

import httpx
from prometheus_client.parser import text_string_to_metric_families

from recsys.bundle.layout import csr_row
from recsys.events.store import SQLiteEventStore, live_paths
from recsys.runtime import PolicyStep, RuntimeModel, RuntimePolicy
from tests.serving.conftest import auth, models_with

#: Bounds of the load loops (requests, seconds): they stop by themselves.
ANSWERS_PER_THREAD = 10
THREADS = 4
KILL_AFTER_ACKED = 30
MAX_SECONDS = 60.0


def _after(model: RuntimeModel, **delta: float) -> str:
    base = datetime.fromtimestamp(model.watermark_us / 1e6, UTC)
    return (base + timedelta(**delta)).isoformat().replace("+00:00", "Z")


def _items(answer) -> list[str]:
    return [i.item_id for i in answer.items]


def test_the_server_answers_with_the_ranked_part_and_a_like_reorders_it(
    tmp_path, trained, server_for
) -> None:
    models = models_with(tmp_path, trained.first, promote=trained.first)
    model = RuntimeModel.load(models / trained.first.name)
    scorer = RuntimeModel.load(models / trained.first.name, policy=RuntimePolicy(ranked=False))
    # a user whose ranked answer is not the shipped scorer's, so the two paths tell apart
    user = next(u for u in trained.users if model.recommend(u, 10).step is PolicyStep.RANKED
                and _items(model.recommend(u, 10)) != _items(scorer.recommend(u, 10)))
    server = server_for(models, workers=1)
    path = f"/v1/users/{user}/recommendations?limit=10"
    before = httpx.get(server.url + path, headers=auth(), timeout=10).json()
    assert [i["item_id"] for i in before["items"]] == _items(model.recommend(user, 10))

    u = model.parts.ids.users.to_index([user])[0]
    met = set(model.parts.ids.items.to_ids(csr_row(model.parts.history.interacted, u)))
    met |= {i["item_id"] for i in before["items"]}
    liked = [str(i) for i in model.parts.ids.items.ids if str(i) not in met][:3]
    events = [{"user_id": user, "item_id": item, "type": "like", "ts": _after(model, hours=1)}
              for item in liked]
    posted = httpx.post(f"{server.url}/v1/events", json={"events": events}, headers=auth(),
                        timeout=30)
    assert posted.status_code == 200 and posted.json()["accepted"] == len(liked), posted.text
    after = httpx.get(server.url + path, headers=auth(), timeout=10).json()
    # none of the liked items was shown: a changed answer is the ranker re-scoring the row
    assert after["items"] != before["items"]
    expected = model.recommend(user, 10, events=SQLiteEventStore(live_paths(models).store))
    assert expected.step is PolicyStep.RANKED
    assert [i["item_id"] for i in after["items"]] == _items(expected)
    metrics = text_string_to_metric_families(
        httpx.get(server.url + "/metrics", headers=auth(), timeout=10).text)
    steps = {s.labels["step"]: s.value for family in metrics for s in family.samples
             if s.name == "recsys_recommendation_answers_total"}
    assert steps == {"ranked": 2.0}


def test_a_posted_purchase_leaves_the_next_answer_of_every_worker(
    tmp_path, trained, server_for
) -> None:
    models = models_with(tmp_path, trained.first, promote=trained.first)
    model = RuntimeModel.load(models / trained.first.name)
    server = server_for(models, workers=2)
    user = trained.users[0]
    path = f"/v1/users/{user}/recommendations?limit=10"
    before = httpx.get(server.url + path, headers=auth(), timeout=10).json()
    bought = before["items"][0]["item_id"]
    event = {"user_id": user, "item_id": bought, "type": "purchase", "ts": _after(model, hours=1)}
    posted = httpx.post(f"{server.url}/v1/events", json={"events": [event]}, headers=auth(),
                        timeout=30)
    assert posted.status_code == 200 and posted.json()["accepted"] == 1, posted.text

    answers: list[dict] = []
    lock = threading.Lock()

    def ask() -> None:
        with httpx.Client(base_url=server.url, timeout=10, headers={"Connection": "close"}) as c:
            for _ in range(ANSWERS_PER_THREAD):
                r = c.get(path, headers=auth())
                with lock:
                    answers.append(r.json())

    threads = [threading.Thread(target=ask) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(answers) == THREADS * ANSWERS_PER_THREAD
    for answer in answers:
        assert bought not in {i["item_id"] for i in answer["items"]}
        assert len(answer["items"]) == 10
    # every worker answers the same: the ranked step reads one store and scores the same row
    assert all(a == answers[0] for a in answers)
    assert answers[0] != before


def test_killing_the_server_mid_batch_loses_no_acknowledged_event(
    tmp_path, trained, server_for
) -> None:
    models = models_with(tmp_path, trained.first, promote=trained.first)
    model = RuntimeModel.load(models / trained.first.name)
    server = server_for(models, workers=1)
    acked: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()
    deadline = time.monotonic() + MAX_SECONDS

    def post(worker: int) -> None:
        with httpx.Client(base_url=server.url, timeout=10) as c:
            for batch in range(10_000):
                if stop.is_set() or time.monotonic() > deadline:
                    return
                events = [{"event_id": f"k{worker}-{batch}-{n}", "user_id": trained.users[n % 8],
                           "item_id": trained.items[n % 6], "type": "view",
                           "ts": _after(model, seconds=batch * 100 + n)} for n in range(100)]
                try:
                    r = c.post("/v1/events", json={"events": events}, headers=auth())
                except httpx.TransportError:
                    return  # the server is gone: this batch was never acknowledged
                if r.status_code == 200:
                    ok = [x["id"] for x in r.json()["results"] if x["status"] == "accepted"]
                    with lock:
                        acked.extend(ok)

    threads = [threading.Thread(target=post, args=(k,)) for k in range(3)]
    for thread in threads:
        thread.start()
    while len(acked) < KILL_AFTER_ACKED * 100 and time.monotonic() < deadline:
        time.sleep(0.01)
    os.killpg(server.process.pid, signal.SIGKILL)  # mid-batch: posts are still in flight
    server.process.wait(timeout=30)
    stop.set()
    for thread in threads:
        thread.join()
    assert len(acked) >= KILL_AFTER_ACKED * 100, "the server acknowledged too little to test"

    with closing(sqlite3.connect(live_paths(models).store)) as con:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        stored = {r[0] for r in con.execute("SELECT event_id FROM events")}
    missing = [e for e in acked if e not in stored]
    assert not missing, f"{len(missing)} acknowledged events lost, e.g. {missing[:3]}"
