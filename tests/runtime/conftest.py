"""The runtime over the session's small trained bundle."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from recsys.runtime import RuntimeModel


@pytest.fixture(scope="module")
def model(small_bundle: dict[str, Path]) -> RuntimeModel:
    return RuntimeModel.load(small_bundle["bundle"])


def history_sizes(model: RuntimeModel) -> np.ndarray:
    return np.diff(model.parts.history.interacted.indptr)


def user_ids(model: RuntimeModel, rows: np.ndarray) -> list[str]:
    return [str(u) for u in model.parts.ids.users.ids[rows]]
