"""Shared fixtures.

Real public data sets are read in place from `../shared/datasets`. Locally a test that needs one
skips when it is absent; under CI=true it fails instead, so a green CI never hides an empty run.
"""

from __future__ import annotations

import os
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
