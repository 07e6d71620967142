"""Cleaning up after a job removes exactly what it recorded creating, and repairs PROMOTED."""

from __future__ import annotations

import json

import pytest

from recsys.bundle import ModelRegistry
from recsys.bundle.created import CreationLog, remove_created
from recsys.errors import BundleError

GOOD = {"holdout": {"ndcg@10": 0.30}}


def test_only_what_the_job_created_goes(make_bundle, models_dir, tmp_path) -> None:
    registry = ModelRegistry(models_dir)
    make_bundle(GOOD, version="20260101T000000Z-aaaaaa")  # the user's own bundle
    registry.promote("20260101T000000Z-aaaaaa")
    data = tmp_path / "data"
    (data / "raw" / "mine").mkdir(parents=True)  # the user's own data, beside the job's
    record_file = models_dir / ".job.json"
    job_paths = [data / "raw" / "sample", data / "processed" / "sample"]
    log = CreationLog.begin(record_file, models_dir, job_paths)
    for path in job_paths:
        (path / "part").mkdir(parents=True)
    log.bundle(make_bundle(GOOD, version="20260102T000000Z-bbbbbb").name)
    registry.promote("20260102T000000Z-bbbbbb")
    # A second run continues the record: its folders exist now, but they are the job's.
    log = CreationLog.begin(record_file, models_dir, job_paths)
    log.bundle(make_bundle(GOOD, version="20260103T000000Z-cccccc").name)
    registry.promote("20260103T000000Z-cccccc")
    assert json.loads(record_file.read_text())["paths"] == [
        str(data / "raw" / "sample"),
        str(data / "processed"),  # the topmost folder the job created
    ]

    removed = remove_created(record_file)

    assert removed == [
        "bundle 20260102T000000Z-bbbbbb",
        "bundle 20260103T000000Z-cccccc",
        str(data / "raw" / "sample"),
        str(data / "processed"),
    ]
    assert sorted(p.name for p in data.rglob("*")) == ["mine", "raw"]
    assert [m.version for m in registry.versions()] == ["20260101T000000Z-aaaaaa"]
    assert registry.promoted() == "20260101T000000Z-aaaaaa"  # never names a deleted bundle
    assert (models_dir / "promotions.jsonl").is_file()  # it also records the user's promotion
    assert not record_file.exists()
    assert remove_created(record_file) == []


def test_a_job_alone_in_its_models_folder_leaves_nothing(make_bundle, models_dir) -> None:
    record_file = models_dir / ".job.json"
    log = CreationLog.begin(record_file, models_dir, [])
    log.bundle(make_bundle(GOOD, version="v1").name)
    ModelRegistry(models_dir).promote("v1", force=True)
    remove_created(record_file)
    assert list(models_dir.iterdir()) == []


def test_a_record_never_removes_the_project_or_its_own_folder(models_dir, tmp_path) -> None:
    record_file = models_dir / ".job.json"
    CreationLog.begin(record_file, models_dir, [tmp_path / "out" / "x"])
    inside = CreationLog.begin(
        tmp_path / "new" / "models" / ".r.json",
        tmp_path / "new" / "models",
        [tmp_path / "new" / "raw"],
    )
    assert inside.record.paths == [str(tmp_path / "new" / "raw")]  # not new/, it holds the record
    record = json.loads(record_file.read_text())
    record["paths"] = [str(tmp_path)]  # edited by hand to hold the record itself
    record_file.write_text(json.dumps(record))
    with pytest.raises(BundleError, match="refusing to remove .*: it holds the project"):
        remove_created(record_file)
    assert record_file.exists()
    with pytest.raises(BundleError, match="records bundles of"):
        CreationLog.begin(record_file, tmp_path / "other", [])
