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
