"""A small bundle factory shared by the bundle tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from recsys.bundle import BundleWriter
from recsys.index import IndexConfig, VectorIndex

MakeBundle = Callable[..., Path]


@pytest.fixture
def models_dir(tmp_path: Path) -> Path:
    return tmp_path / "models"


@pytest.fixture
def make_bundle(models_dir: Path) -> MakeBundle:
    """Write a real bundle (arrays, JSON, faiss index) with the given metrics."""

    def make(metrics: dict | None = None, version: str | None = None) -> Path:
        rng = np.random.default_rng(0)
        factors = rng.standard_normal((50, 8)).astype(np.float32)
        with BundleWriter(models_dir, version) as writer:
            writer.write_array("items/factors", factors)
            writer.write_json("params", {"k": 10})
            VectorIndex(IndexConfig(kind="flat")).build(factors).save(writer.path("index/items"))
            return writer.commit(
                config={"seed": 0},
                data_fingerprint="ab" * 32,
                row_counts={"items": 50},
                metrics=metrics or {},
            )

    return make
