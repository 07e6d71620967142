"""Segments over the session's small trained bundle (500 users, 300 items, 6 merchants)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from recsys.runtime import RuntimeModel
from recsys.segments import Segmenter


@pytest.fixture(scope="module")
def model(small_bundle: dict[str, Path]) -> RuntimeModel:
    return RuntimeModel.load(small_bundle["bundle"])


@pytest.fixture(scope="module")
def segmenter(model: RuntimeModel) -> Segmenter:
    return Segmenter(model.parts, model.version)


def merchant_items(model: RuntimeModel, merchant: str) -> np.ndarray:
    return np.flatnonzero(model.parts.catalogue.strings("merchant_id") == merchant)


def customers(model: RuntimeModel, items: np.ndarray) -> np.ndarray:
    """Users who bought any of `items`."""
    bought = model.parts.history.purchased[:, items]
    return np.flatnonzero(np.asarray(bought.sum(axis=1)).ravel() > 0)
