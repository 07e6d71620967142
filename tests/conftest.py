"""Shared fixtures.

Real public data sets are read in place from `../shared/datasets`. Locally a test that needs one
skips when it is absent; under CI=true it fails instead, so a green CI never hides an empty run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATASETS = PROJECT_ROOT.parent / "shared" / "datasets"


def shared_dataset(name: str) -> Path:
    """Path of a shared data set; skip (locally) or fail (CI=true) when it is missing."""
    path = SHARED_DATASETS / name
    if not path.is_dir():
        message = f"shared data set {name!r} not found at ../shared/datasets/{name}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + " (CI=true: missing data must fail, not skip)")
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def project_root() -> Path:
    return PROJECT_ROOT


#: The bundle signing key of the test session (any text of 16+ characters is a valid key).
TEST_BUNDLE_KEY = "recsys-test-session-bundle-key"


@pytest.fixture(scope="session", autouse=True)
def bundle_key(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Every test signs and reads bundles with a test key, and no key file lands in the repo.

    Session-scoped so module- and session-scoped fixtures that train bundles get it too; it
    sets the process environment, which subprocesses (the CLI, a server) inherit. Tests of key
    handling itself override these with monkeypatch.
    """
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RECSYS_BUNDLE_KEY", TEST_BUNDLE_KEY)
        mp.setenv("RECSYS_BUNDLE_KEY_FILE", str(tmp_path_factory.mktemp("key") / "bundle.key"))
        yield TEST_BUNDLE_KEY


@pytest.fixture(scope="session")
def small_bundle(
    tmp_path_factory: pytest.TempPathFactory, bundle_key: str
) -> dict[str, Path]:
    """A synthetic sample, ingested and trained once per session: {"data", "bundle"}.

    Read-only for the tests that share it (the runtime, the bundle parts); a test that
    changes a bundle copies it first.
    """
    from recsys.ingest import ingest
    from recsys.recipe import TrainConfig
    from recsys.synth import SynthConfig, generate
    from recsys.training.run import run_training

    root = tmp_path_factory.mktemp("small_bundle")
    generate(SynthConfig(n_users=500, n_items=300, seed=11, progress=False), root / "raw")
    ingest(root / "raw", root / "data")
    config = TrainConfig.model_validate({"seed": 2, "content": {"evaluate_cold_start": False}})
    bundle = run_training(root / "data", config, models_dir=root / "models")
    return {"data": root / "data", "bundle": bundle}


@pytest.fixture(scope="session")
def share_world(tmp_path_factory: pytest.TempPathFactory, bundle_key: str) -> dict[str, object]:
    """A sample rich in group buys, with planted contact cases, ingested and trained once.

    The user who started the most joined group buys is `user`; of the friends who joined them
    most, one opted out of being a share target (`opted_out`), one blocked the user
    (`blocks_user`) and one was blocked by the user (`blocked_by_user`): the three friends a
    ranker would most want to suggest. Keys: data, raw, bundle and those four user ids.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from recsys.ingest import ingest
    from recsys.recipe import TrainConfig
    from recsys.synth import SynthConfig, generate
    from recsys.training.run import run_training

    root = tmp_path_factory.mktemp("share_world")
    raw = root / "raw"
    generate(SynthConfig(n_users=800, n_items=300, seed=5, group_buy_item_share=0.6,
                         purchase_prob=0.3, events_per_user=15, progress=False), raw)  # fmt: skip
    groups = pq.read_table(raw / "group_buys").to_pandas()
    events = pq.read_table(raw / "events").to_pandas()
    joins = events[events["type"] == "group_buy_join"].merge(
        groups[["group_id", "initiator_id"]], on="group_id"
    )
    user = str(joins["initiator_id"].value_counts().index[0])
    close = joins[joins["initiator_id"] == user]["user_id"].value_counts().index[:3]
    opted_out, blocks_user, blocked_by_user = (str(u) for u in close)
    users_path = next((raw / "users").glob("*.parquet"))
    users = pq.read_table(users_path)
    flags = users["share_opt_out"].to_numpy(zero_copy_only=False).copy()
    flags[users["user_id"].to_numpy(zero_copy_only=False) == opted_out] = True
    pq.write_table(users.set_column(users.schema.get_field_index("share_opt_out"),
                                    "share_opt_out", pa.array(flags)), users_path)  # fmt: skip
    edges_path = next((raw / "social_edges").glob("*.parquet"))
    edges = pq.read_table(edges_path)
    ts = edges["ts"][0]
    blocks = pa.table({"src": [blocks_user, user], "dst": [user, blocked_by_user],
                       "kind": ["blocked", "blocked"], "ts": pa.array([ts.as_py()] * 2,
                       edges.schema.field("ts").type)}, schema=edges.schema)  # fmt: skip
    pq.write_table(pa.concat_tables([edges, blocks]), edges_path)
    ingest(raw, root / "data")
    config = TrainConfig.model_validate({"seed": 2, "content": {"evaluate_cold_start": False}})
    bundle = run_training(root / "data", config, models_dir=root / "models")
    return {"data": root / "data", "raw": raw, "bundle": bundle, "user": user,
            "opted_out": opted_out, "blocks_user": blocks_user,
            "blocked_by_user": blocked_by_user}  # fmt: skip
