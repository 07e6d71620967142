"""/healthz is the process; /readyz is a verified bundle: 503 with no bundle, a corrupt one or a
dangling PROMOTED. A refused swap leaves the old model serving and is counted."""

from __future__ import annotations

import json
import shutil
import time

import pytest

from recsys.bundle.registry import ModelRegistry
from tests.serving.conftest import auth, corrupt, models_with, write_pointer


def _not_ready(client) -> str:
    response = client.get("/readyz")
    assert response.status_code == 503, response.text
    error = response.json()["error"]
    assert error["code"] == "not_ready"
    assert client.get("/healthz").json() == {"status": "ok"}
    v1 = client.get("/v1/circles", headers=auth())
    assert v1.status_code == 503 and v1.json()["error"]["code"] == "not_ready"
    return error["message"]


def test_ready_with_a_verified_bundle(tmp_path, trained, client_for) -> None:
    client = client_for(models_with(tmp_path, trained.first, promote=trained.first))
    assert client.get("/readyz").json() == {"status": "ready", "model_version": trained.first.name}


def test_not_ready_without_a_bundle(tmp_path, client_for) -> None:
    assert "no bundle has been promoted" in _not_ready(client_for(tmp_path / "empty"))


def test_not_ready_with_a_corrupt_bundle(tmp_path, trained, client_for) -> None:
    models = models_with(tmp_path, trained.first, promote=trained.first)
    corrupt(models / trained.first.name)
    assert trained.first.name in _not_ready(client_for(models))


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (lambda m: m.pop("signature"), "unsigned"),
        (lambda m: m["metrics"].update(tampered=1.0), "signed content altered"),
        (lambda m: m.update(format_version=999), "incompatible format"),
    ],
)
def test_not_ready_with_an_unsigned_altered_or_incompatible_bundle(
    tmp_path, trained, client_for, change, why
) -> None:
    models = models_with(tmp_path, trained.first, promote=trained.first)
    path = models / trained.first.name / "manifest.json"
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest))
    assert trained.first.name in _not_ready(client_for(models)), why


def test_not_ready_with_a_dangling_pointer(tmp_path, trained, client_for) -> None:
    models = models_with(tmp_path, trained.first, promote=trained.first)
    shutil.rmtree(models / trained.first.name)
    assert trained.first.name in _not_ready(client_for(models))


def test_not_ready_with_a_pointer_that_is_no_version(tmp_path, trained, client_for) -> None:
    models = models_with(tmp_path, trained.first)
    write_pointer(models, "../../etc")
    _not_ready(client_for(models))


def _refused(client) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith('recsys_model_swaps_total{outcome="refused"}'):
            return float(line.split()[-1])
    return 0.0


def _wait_for(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_watcher_follows_promote_and_rollback_and_refuses_a_corrupt_bundle(
    tmp_path, trained, client_for
) -> None:
    models = models_with(tmp_path, trained.first, trained.second, promote=trained.first)
    client = client_for(models, poll_interval=0.05)
    version = lambda: client.get("/readyz").json()["model_version"]  # noqa: E731
    assert version() == trained.first.name

    registry = ModelRegistry(models)
    registry.promote(trained.second.name, force=True)  # what `recsys models promote` does
    _wait_for(lambda: version() == trained.second.name)
    registry.rollback()  # `recsys models rollback`
    _wait_for(lambda: version() == trained.first.name)
    write_pointer(models, trained.second.name)
    _wait_for(lambda: version() == trained.second.name)

    corrupt(models / trained.first.name)
    write_pointer(models, trained.first.name)
    _wait_for(lambda: _refused(client) == 1.0)
    assert version() == trained.second.name
    answer = client.get("/v1/circles", headers=auth())
    assert answer.status_code == 200
    assert answer.headers["X-Model-Version"] == trained.second.name
    time.sleep(0.3)
    assert _refused(client) == 1.0, "an unchanged PROMOTED is not retried every poll"

    shutil.rmtree(models / trained.first.name)
    write_pointer(models, "20000101T000000Z-000000")  # a dangling pointer while serving
    _wait_for(lambda: _refused(client) == 2.0)
    assert version() == trained.second.name


def test_a_served_model_is_frozen_out_of_the_collectors_walks_and_a_swap_frees_the_old(
    tmp_path, trained, client_for
) -> None:
    """A full collection in a loaded worker walks every object (100-200 ms): the store freezes
    what it holds after each load, and a swap still lets the old model go."""
    import gc
    import weakref

    models = models_with(tmp_path, trained.first, trained.second, promote=trained.first)
    client = client_for(models, poll_interval=0.05)
    version = lambda: client.get("/readyz").json()["model_version"]  # noqa: E731
    assert version() == trained.first.name
    assert gc.get_freeze_count() > 0
    store = client.app.state.recsys.store
    assert store._refreeze_at is None  # a first load schedules no second collection (a pause)
    old = weakref.ref(store.current)
    ModelRegistry(models).promote(trained.second.name, force=True)
    _wait_for(lambda: version() == trained.second.name)
    _wait_for(lambda: old() is None)
    # The swap collects (freeing the old model), then freezes: wait out that window.
    _wait_for(lambda: gc.get_freeze_count() > 0)
    gc.unfreeze()
