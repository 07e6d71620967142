"""Bundles are written atomically and refuse to load when partial or corrupt."""

from __future__ import annotations

import hashlib
import re

import numpy as np
import pytest

from recsys.bundle import Bundle, BundleWriter, Manifest, library_versions
from recsys.bundle.writer import new_version
from recsys.errors import BundleError
from recsys.index import VectorIndex
from tests.bundle.conftest import read_raw, write_raw


def test_committed_bundle_round_trips(make_bundle, models_dir) -> None:
    path = make_bundle({"holdout": {"ndcg@10": 0.3}}, version="v1")
    assert path == models_dir / "v1"
    assert not [p for p in models_dir.iterdir() if p.name.startswith(".tmp")]
    bundle = Bundle.open(path)
    m = bundle.manifest
    assert m.version == "v1" and m.row_counts == {"items": 50}
    assert set(m.files) == {
        "items/factors.npy",
        "params.json",
        "index/items/index.faiss",
        "index/items/index.json",
    }
    assert m.metric("holdout.ndcg@10") == 0.3 and m.metric("holdout.missing") is None
    assert m.library_versions["faiss"] == library_versions()["faiss"]
    factors = bundle.array("items/factors")
    assert isinstance(factors, np.memmap) and factors.shape == (50, 8)
    assert bundle.json("params") == {"k": 10}
    index = VectorIndex.load(bundle.path("index/items"))
    ids, _ = index.search(np.asarray(factors[:3]), 1)
    np.testing.assert_array_equal(ids[:, 0], np.argmax(factors[:3] @ factors.T, axis=1))


def test_exception_inside_with_leaves_nothing(models_dir) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        with BundleWriter(models_dir, "v1") as writer:
            writer.write_array("a", np.arange(3))
            raise RuntimeError("boom")
    assert list(models_dir.iterdir()) == []


def test_leaving_without_commit_discards(models_dir) -> None:
    with BundleWriter(models_dir, "v1") as writer:
        writer.write_array("a", np.arange(3))
    assert list(models_dir.iterdir()) == []


def test_existing_version_and_bad_names_are_refused(make_bundle, models_dir) -> None:
    make_bundle(version="v1")
    with pytest.raises(BundleError, match="already exists"):
        with BundleWriter(models_dir, "v1"):
            pass
    for bad in ("../evil", ".hidden", "PROMOTED", "a/b", ""):
        with pytest.raises(BundleError, match="invalid bundle version"):
            BundleWriter(models_dir, bad or "/")
    with BundleWriter(models_dir, "v2") as writer:
        with pytest.raises(BundleError, match="another writer"):
            with BundleWriter(models_dir, "v2"):
                pass
        assert writer.root.is_dir()  # the failed second writer did not remove the first's folder
        for bad in ("../x.npy", "/etc/x", "manifest.json"):
            with pytest.raises(BundleError, match="invalid bundle file name"):
                writer.path(bad)
        with pytest.raises(BundleError, match="pickle"):
            writer.write_array("objs", np.array(["a", None], dtype=object))


def test_versions_are_unique_and_sort_by_time() -> None:
    names = {new_version() for _ in range(200)}
    assert len(names) == 200
    assert all(re.fullmatch(r"\d{8}T\d{6}Z-[0-9a-f]{6}", n) for n in names)


def test_corrupted_file_is_named(make_bundle) -> None:
    path = make_bundle(version="v1")
    target = path / "items" / "factors.npy"
    raw = bytearray(target.read_bytes())
    raw[-1] ^= 0xFF
    target.write_bytes(bytes(raw))
    with pytest.raises(BundleError, match=r"items/factors.npy: sha256 differs"):
        Bundle.open(path)
    Bundle.open(path, verify=False)  # opt-out for trusted, hot paths


def test_deleted_truncated_and_extra_files_are_named(make_bundle) -> None:
    path = make_bundle(version="v1")
    (path / "index" / "items" / "index.faiss").unlink()
    with (path / "params.json").open("ab") as fh:
        fh.write(b" ")
    np.save(path / "items" / "extra.npy", np.zeros(2))
    with pytest.raises(BundleError) as info:
        Bundle.open(path)
    message = str(info.value)
    assert "index/items/index.faiss: missing" in message
    assert re.search(r"params.json: (\d+) bytes, manifest says (\d+)", message)
    assert "items/extra.npy: not listed" in message


def test_partial_bundle_without_manifest_is_refused(make_bundle) -> None:
    path = make_bundle(version="v1")
    (path / "manifest.json").unlink()
    with pytest.raises(BundleError, match="no manifest.json; partial"):
        Bundle.open(path)
    with pytest.raises(BundleError, match="no such bundle folder"):
        Bundle.open(path.parent / "nope")


def test_moved_or_invalid_manifest_is_refused(make_bundle, models_dir) -> None:
    path = make_bundle(version="v1")
    moved = path.rename(models_dir / "v9")
    with pytest.raises(BundleError, match="records version 'v1' but lives in folder 'v9'"):
        Bundle.open(moved)
    data = read_raw(moved)
    data["unexpected"] = 1
    data["row_counts"] = {"items": "many"}
    write_raw(moved, data, sign=True)  # signed, yet not a manifest: named field by field
    with pytest.raises(BundleError) as info:
        Bundle.open(moved)
    message = str(info.value)
    assert "invalid manifest: " in message and "\n" not in message
    assert "row_counts.items: " in message and "unexpected: Extra inputs" in message


@pytest.mark.parametrize("name", ["<absolute>", "../../x", "../outside.txt", "a/../../b"])
def test_manifest_paths_outside_the_bundle_are_refused_before_reading(
    make_bundle, tmp_path, name
) -> None:
    path = make_bundle(version="v1")
    if name == "<absolute>":  # like /etc/hostname, but a file of the test's own
        name = str(tmp_path / "hostname")
    outside = (path / name).resolve()
    assert outside.is_relative_to(tmp_path)
    outside.write_text("not yours")
    data = read_raw(path)
    data["files"][name] = {
        "sha256": hashlib.sha256(outside.read_bytes()).hexdigest(),
        "bytes": outside.stat().st_size,
    }
    write_raw(path, data, sign=True)  # even a key holder cannot make a bundle read outside
    with pytest.raises(BundleError, match="is not a plain relative path inside the bundle"):
        Bundle.open(path)


def test_a_symlink_out_of_the_bundle_is_refused(make_bundle, tmp_path) -> None:
    path = make_bundle(version="v1")
    params = path / "params.json"
    copy = tmp_path / "elsewhere.json"
    copy.write_bytes(params.read_bytes())  # same bytes, same sha256
    params.unlink()
    params.symlink_to(copy)
    with pytest.raises(BundleError, match="'params.json' resolves outside the bundle folder"):
        Bundle.open(path)
    with pytest.raises(BundleError, match="resolves outside"):
        Bundle.open(path, verify=False).json("params")


def test_child_bundle_inherits_and_replaces(make_bundle, models_dir) -> None:
    parent = Bundle.open(make_bundle({"holdout": {"ndcg@10": 0.3}}, version="v1"))
    with BundleWriter(models_dir, "v2", parent=parent) as writer:
        with writer.step("refresh"):
            grown = np.vstack([parent.array("items/factors"), np.ones((5, 8), np.float32)])
            writer.write_array("items/factors", grown)
            index = VectorIndex.load(writer.path("index/items"))
            index.add(np.ones((5, 8), np.float32))
            index.save(writer.path("index/items"))
            writer.remove("params.json")
        path = writer.commit(row_counts={"items": 55})
    child = Bundle.open(path)
    m = child.manifest
    assert m.parent_version == "v1" and m.row_counts == {"items": 55}
    assert m.metrics == parent.manifest.metrics and m.config == parent.manifest.config
    assert m.data_fingerprint == parent.manifest.data_fingerprint
    assert "refresh" in m.step_timings and "params.json" not in m.files
    assert child.array("items/factors").shape == (55, 8)
    assert VectorIndex.load(child.path("index/items")).ntotal == 55
    # The parent is untouched.
    assert Bundle.open(parent.root).array("items/factors").shape == (50, 8)


def test_manifest_metric_lookup_handles_dotted_names() -> None:
    m = Manifest(
        version="v",
        created_at="2026-01-01T00:00:00Z",
        metrics={"a": {"recall@0.5": 0.7, "b": {"c": 2}, "flag": True, "s": "x"}},
    )
    assert m.metric("a.recall@0.5") == 0.7
    assert m.metric("a.b.c") == 2.0
    assert m.metric("a.flag") is None and m.metric("a.s") is None and m.metric("a.b") is None


@pytest.mark.parametrize(
    "name",
    ["/etc/hostname", "../../x", "a/../b", "a//b", "./a", "a/.", "a\\b", "manifest.json", ""],
)
def test_manifest_model_refuses_file_names_that_leave_the_folder(name) -> None:
    entry = {"sha256": "0" * 64, "bytes": 1}
    with pytest.raises(ValueError, match="not a plain relative path"):
        Manifest(version="v", created_at="2026-01-01T00:00:00Z", files={name: entry})
    Manifest(version="v", created_at="2026-01-01T00:00:00Z", files={"a/b.npy": entry})


def test_identical_big_files_share_one_inode_and_a_child_never_writes_through(
    models_dir,
) -> None:
    """The ranked recommender's ALS source adopts the scorer's fit: its arrays equal the
    scorer's byte for byte, and a committed bundle holds them once (a hard link). A child
    bundle that rewrites one of them leaves the other, and the parent, as they were."""
    from recsys.bundle.writer import LINK_MIN_BYTES

    rows = LINK_MIN_BYTES // (8 * 4) + 1
    big = np.arange(rows * 8, dtype=np.float32).reshape(rows, 8)
    small = np.ones((4, 8), np.float32)
    with BundleWriter(models_dir, "v1") as writer:
        for name in ("scorer/user_factors", "ranked/als/user_factors"):
            writer.write_array(name, big)
        for name in ("scorer/bias", "ranked/als/bias"):
            writer.write_array(name, small)
        path = writer.commit(row_counts={"users": rows})
    inode = lambda p, name: (p / f"{name}.npy").stat().st_ino  # noqa: E731
    assert inode(path, "scorer/user_factors") == inode(path, "ranked/als/user_factors")
    assert inode(path, "scorer/bias") != inode(path, "ranked/als/bias")  # small: copies
    parent = Bundle.open(path)  # verify: every checksum holds through the link
    with BundleWriter(models_dir, "v2", parent=parent) as writer:
        writer.write_array("scorer/user_factors", big + 1)
        child = Bundle.open(writer.commit())
    np.testing.assert_array_equal(child.array("ranked/als/user_factors"), big)
    np.testing.assert_array_equal(child.array("scorer/user_factors"), big + 1)
    np.testing.assert_array_equal(Bundle.open(path).array("scorer/user_factors"), big)
