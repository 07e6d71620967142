"""Replay: users the model never saw post their history through the API, and their next answers
are already personal.

200 users' events are held out of training. Their earlier events (80% by time) are posted to
`POST /v1/events` (shifted to just after the bundle's watermark, order kept, as if they happened
after training); their later items are the held-out truth. NDCG@10 on those items, for the same
users: the folded-in answers must beat the cold chain's (what they got before posting), and are
reported beside a model retrained with the posted events (the ceiling fold-in approaches).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import scipy.sparse as sp
from fastapi.testclient import TestClient

from recsys.bundle.registry import ModelRegistry
from recsys.contract import TABLES
from recsys.datastore import DataDir
from recsys.ingest import ingest
from recsys.metrics.ranking import ndcg_at_k
from recsys.recipe import TrainConfig
from recsys.runtime import PolicyStep, RuntimeModel
from recsys.synth import SynthConfig, generate
from recsys.training.run import run_training
from serving.app import create_app
from serving.settings import Settings
from tests.conftest import RANKED_OFF
from tests.serving.conftest import KEYS, auth

N_USERS, REPLAYED, K, TRAIN_SHARE = 3000, 200, 10, 0.8
CONFIG = {"seed": 1, "holdout_fraction": 0, "content": {"evaluate_cold_start": False},
          "ranked": RANKED_OFF}


def _source(data: DataDir, events: pa.Table, root: Path) -> Path:
    """A source folder of the data's tables with `events` in place of its events."""
    for spec in TABLES:
        if data.has_table(spec.name):
            (root / spec.name).mkdir(parents=True)
            table = events if spec.name == "events" else data.read_table(spec.name)
            pq.write_table(table, root / spec.name / "part-00000.parquet")
    return root


@pytest.fixture(scope="module")
def replay(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("replay")
    generate(SynthConfig(n_users=N_USERS, seed=5, progress=False), root / "raw")
    ingest(root / "raw", root / "all")
    data = DataDir(root / "all")
    events = data.read_table("events").sort_by([("ts", "ascending"), ("event_id", "ascending")])
    with_item = pc.is_valid(events["item_id"])
    per_user = pc.value_counts(pc.filter(events["user_id"], with_item))
    rng = np.random.default_rng(0)
    counts = zip(per_user.field(0), per_user.field(1), strict=True)
    busy = [u.as_py() for u, n in counts if n.as_py() >= 8]
    posted, held = [], {}
    for user in rng.permutation(sorted(busy)).tolist():  # the first 200 with held-out items
        rows = events.filter(pc.equal(events["user_id"], user))
        cut = int(np.ceil(rows.num_rows * TRAIN_SHARE))
        train, later = rows.slice(0, cut), rows.slice(cut)
        seen = set(pc.drop_null(train["item_id"]).to_pylist())
        truth = set(pc.drop_null(later["item_id"]).to_pylist()) - seen
        if truth:
            held[user] = truth
            posted.append(train)
        if len(held) == REPLAYED:
            break
    mine = pc.is_in(events["user_id"], value_set=pa.array(sorted(held)))
    posted_events = pa.concat_tables(posted)
    without = ingest(_source(data, events.filter(pc.invert(mine)), root / "src-without"),
                     root / "without")
    full_events = pa.concat_tables([events.filter(pc.invert(mine)), posted_events])
    ingest(_source(data, full_events, root / "src-full"), root / "full")
    assert without.total_quarantined == 0
    config = TrainConfig.model_validate(CONFIG)
    models = root / "models"
    bundle = run_training(root / "without", config, models_dir=models)
    retrained = run_training(root / "full", config, models_dir=root / "models-full")
    ModelRegistry(models).promote(bundle.name, force=True)
    return {"models": models, "bundle": bundle, "retrained": retrained, "held": held,
            "posted": posted_events}


def _ndcg(model: RuntimeModel, answers: dict[str, list[str]], held: dict[str, set]) -> float:
    users = sorted(held)
    items = model.parts.ids.items
    recommended = np.full((len(users), K), -1, np.int64)
    for row, user in enumerate(users):
        idx = items.to_index(answers[user])
        recommended[row, : len(idx)] = idx
    rows = [r for r, u in enumerate(users) for _ in held[u]]
    cols = items.to_index([i for u in users for i in sorted(held[u])])
    relevant = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(users), len(items)))
    return ndcg_at_k(recommended, relevant, K)


def test_posted_history_beats_the_cold_chain_and_approaches_a_retrain(replay, tmp_path) -> None:
    model = RuntimeModel.load(replay["bundle"])
    held = replay["held"]
    assert model.parts.ids.users.to_index(sorted(held)).min() >= 0  # known, without history
    cold = {u: [i.item_id for i in model.recommend(u, K).items] for u in held}
    assert {model.recommend(u, K).step for u in held} <= {PolicyStep.CIRCLE_CHAIN,
                                                         PolicyStep.GLOBAL_CHAIN}
    posted = replay["posted"]
    shift = model.watermark_us + 1_000_000 - posted["ts"].cast(pa.int64()).to_numpy().min()
    ts = pc.cast(pa.array(posted["ts"].cast(pa.int64()).to_numpy() + shift),
                 pa.timestamp("us", tz="UTC"))
    rows = posted.set_column(posted.schema.get_field_index("ts"), "ts", ts).to_pylist()
    for row in rows:
        row["ts"] = row["ts"].isoformat()
    settings = Settings(models_dir=replay["models"], api_keys=KEYS, max_event_batch=1000)
    status: dict[str, int] = {}
    with TestClient(create_app(settings)) as client:
        for lo in range(0, len(rows), 1000):
            response = client.post("/v1/events", json={"events": rows[lo: lo + 1000]},
                                   headers=auth())
            assert response.status_code == 200, response.text
            for result in response.json()["results"]:
                status[result["status"]] = status.get(result["status"], 0) + 1
        folded = {}
        for user in held:
            body = client.get(f"/v1/users/{user}/recommendations?limit={K}", headers=auth())
            folded[user] = [i["item_id"] for i in body.json()["items"]]
    # group events shifted past their group's deadline are rejected; the rest is stored
    assert status.get("accepted", 0) >= 0.9 * len(rows), status
    assert len(held) == REPLAYED
    retrained = RuntimeModel.load(replay["retrained"])
    full = {u: [i.item_id for i in retrained.recommend(u, K).items] for u in held}
    scores = {
        "users": len(held),
        "posted_events": len(rows),
        "results": status,
        "ndcg@10_cold_chain": round(_ndcg(model, cold, held), 4),
        "ndcg@10_fold_in": round(_ndcg(model, folded, held), 4),
        "ndcg@10_retrained": round(_ndcg(model, full, held), 4),
    }
    print("replay:", json.dumps(scores))
    (tmp_path / "replay.json").write_text(json.dumps(scores))
    assert scores["ndcg@10_fold_in"] > scores["ndcg@10_cold_chain"] * 1.2, scores
    assert scores["ndcg@10_fold_in"] >= 0.5 * scores["ndcg@10_retrained"], scores
