"""A small bundle factory shared by the bundle tests, and a way to edit a manifest."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

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

    def make(
        metrics: dict | None = None, version: str | None = None, fingerprint: str = "ab" * 32
    ) -> Path:
        rng = np.random.default_rng(0)
        factors = rng.standard_normal((50, 8)).astype(np.float32)
        with BundleWriter(models_dir, version) as writer:
            writer.write_array("items/factors", factors)
            writer.write_json("params", {"k": 10})
            VectorIndex(IndexConfig(kind="flat")).build(factors).save(writer.path("index/items"))
            return writer.commit(
                config={"seed": 0},
                data_fingerprint=fingerprint,
                row_counts={"items": 50},
                metrics=metrics or {},
            )

    return make


def read_raw(bundle: Path) -> dict[str, Any]:
    """The manifest of `bundle` as plain JSON (signature included)."""
    return json.loads((bundle / "manifest.json").read_text())


def write_raw(bundle: Path, data: dict[str, Any], *, sign: bool = False) -> None:
    """Overwrite a manifest as an editor would; with `sign`, as one holding the key would."""
    if sign:
        from recsys.bundle.signing import resolve_key

        body = {k: v for k, v in data.items() if k != "signature"}
        data = {**body, "signature": resolve_key().sign(body)}
    (bundle / "manifest.json").write_text(json.dumps(data, indent=2))
