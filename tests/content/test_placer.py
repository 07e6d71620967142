"""ContentPlacer: text straight to CF factors, saved and reloaded for catalogue refresh."""

from __future__ import annotations

import numpy as np
import pytest

from recsys.content.encoder import ContentEncoder
from recsys.content.factor_map import ContentToFactorMap
from recsys.content.placer import ContentPlacer
from recsys.errors import BundleError, NotFittedError

TEXTS = [
    "running shoes trail", "running shoes road", "trail shoes hiking",
    "mango fruit box", "mango lychee fruit", "apple fruit box",
]


def _placer() -> ContentPlacer:
    encoder = ContentEncoder(n_components=3, min_df=1).fit(TEXTS)
    content = encoder.transform(TEXTS)
    factors = np.repeat([[1.0, 0.0], [0.0, 1.0]], 3, axis=0)  # shoes vs fruit
    return ContentPlacer(encoder, ContentToFactorMap(alpha=0.01).fit(content, factors))


def test_new_texts_land_near_their_topic() -> None:
    v = _placer().item_vectors(["new trail running shoes", "fresh mango box"])
    assert v.shape == (2, 2) and v.dtype == np.float32
    assert v[0, 0] > v[0, 1] and v[1, 1] > v[1, 0]


def test_save_load_identical(tmp_path) -> None:
    placer = _placer()
    placer.save(tmp_path / "content")
    loaded = ContentPlacer.load(tmp_path / "content")
    texts = ["hiking shoes", "lychee", "unknown words"]
    assert np.array_equal(placer.item_vectors(texts), loaded.item_vectors(texts))


def test_refuses_mismatched_or_unfitted_parts(tmp_path) -> None:
    encoder = ContentEncoder(n_components=3, min_df=1).fit(TEXTS)
    with pytest.raises(NotFittedError):
        ContentPlacer(encoder, ContentToFactorMap())
    wrong = ContentToFactorMap().fit(np.eye(5), np.eye(5))
    with pytest.raises(BundleError, match="5-dim"):
        ContentPlacer(encoder, wrong)
    with pytest.raises(BundleError):
        ContentPlacer.load(tmp_path / "absent")
