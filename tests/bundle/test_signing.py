"""Bundles cannot be forged: the manifest is signed with a key kept outside the bundle."""

from __future__ import annotations

import hashlib
import json
import logging
import stat

import numpy as np
import pytest

from recsys.bundle import Bundle, BundleWriter, ModelRegistry
from recsys.errors import BundleError
from tests.bundle.conftest import read_raw, write_raw

GOOD = {"holdout": {"ndcg@10": 0.30}}
WORSE = {"holdout": {"ndcg@10": 0.20}}


def test_hand_edited_metrics_are_refused_by_open_promote_and_list(make_bundle, models_dir) -> None:
    registry = ModelRegistry(models_dir)
    make_bundle(GOOD, version="v1")
    registry.promote("v1")
    path = make_bundle(WORSE, version="v2")
    data = read_raw(path)
    data["metrics"]["holdout"]["ndcg@10"] = 0.99
    write_raw(path, data)
    with pytest.raises(BundleError, match=r"v2/manifest.json: .*altered after signing"):
        Bundle.open(path)
    with pytest.raises(BundleError, match="altered after signing"):
        registry.promote("v2")
    with pytest.raises(BundleError, match="altered after signing"):
        registry.promote("v2", force=True)
    assert registry.promoted() == "v1"
    assert [m.version for m in registry.versions()] == ["v1"]


def test_zeroed_vectors_with_a_recomputed_checksum_are_refused(make_bundle) -> None:
    path = make_bundle(GOOD, version="v1")
    target = path / "items" / "factors.npy"
    np.save(target, np.zeros((50, 8), np.float32), allow_pickle=False)
    data = read_raw(path)
    data["files"]["items/factors.npy"] = {
        "sha256": hashlib.sha256(target.read_bytes()).hexdigest(),
        "bytes": target.stat().st_size,
    }
    write_raw(path, data)
    with pytest.raises(BundleError, match="altered after signing"):
        Bundle.open(path)


def test_unsigned_manifest_is_refused(make_bundle) -> None:
    path = make_bundle(GOOD, version="v1")
    data = read_raw(path)
    del data["signature"]
    write_raw(path, data)
    with pytest.raises(BundleError, match="manifest is not signed; refusing an unsigned bundle"):
        Bundle.open(path, verify=False)  # even the fast path of a hot reload checks it


def test_a_bundle_signed_with_another_key_says_so(make_bundle, monkeypatch) -> None:
    path = make_bundle(GOOD, version="v1")
    signed_with = read_raw(path)["signature"]["key_id"]
    monkeypatch.setenv("RECSYS_BUNDLE_KEY", "another-machine-entirely-other-key")
    with pytest.raises(BundleError) as info:
        Bundle.open(path)
    message = str(info.value)
    assert f"signed with another key (key id {signed_with}, this machine's key " in message
    assert "from RECSYS_BUNDLE_KEY" in message and "another-machine" not in message


def test_other_format_versions_are_refused_by_name(make_bundle) -> None:
    path = make_bundle(GOOD, version="v1")
    data = read_raw(path)
    for version in (1, 2, 3, 4, 5, 6, 8):
        data["format_version"] = version
        write_raw(path, data, sign=True)  # a valid signature: only the version is wrong
        with pytest.raises(
            BundleError,
            match=rf"bundle format version {version}, this recsys reads format version 7 only",
        ):
            Bundle.open(path)


def test_signature_covers_content_not_layout(make_bundle) -> None:
    path = make_bundle(GOOD, version="v1")
    data = read_raw(path)
    reordered = dict(reversed(list(data.items())))
    (path / "manifest.json").write_text(json.dumps(reordered, separators=(",", ":")))
    assert Bundle.open(path).manifest.metric("holdout.ndcg@10") == 0.30


def test_nan_written_into_a_manifest_is_refused(make_bundle) -> None:
    path = make_bundle(GOOD, version="v1")
    text = (path / "manifest.json").read_text().replace("0.3", "NaN", 1)
    (path / "manifest.json").write_text(text)
    with pytest.raises(BundleError, match="manifest holds a value JSON cannot carry"):
        Bundle.open(path)


def test_first_writer_creates_a_private_key_file_and_readers_never_do(
    make_bundle, models_dir, tmp_path, monkeypatch, caplog
) -> None:
    signed_by_session_key = make_bundle(GOOD, version="v0")
    key_file = tmp_path / "keys" / "bundle.key"
    monkeypatch.delenv("RECSYS_BUNDLE_KEY")
    monkeypatch.setenv("RECSYS_BUNDLE_KEY_FILE", str(key_file))
    with pytest.raises(BundleError, match=rf"no bundle signing key: .*{key_file} does not exist"):
        Bundle.open(signed_by_session_key)  # reading never creates a key
    assert not key_file.exists()
    with caplog.at_level(logging.WARNING, logger="recsys.bundle.signing"):
        with BundleWriter(models_dir, "v1") as writer:
            writer.write_array("a", np.arange(3))
            path = writer.commit()
    assert f"created bundle signing key {key_file}" in caplog.text
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = key_file.read_text()
    with BundleWriter(models_dir, "v2") as writer:
        writer.write_array("a", np.arange(3))
        writer.commit()
    assert key_file.read_text() == key  # reused, never replaced
    assert Bundle.open(path).version == "v1"
    with pytest.raises(BundleError, match=rf"signed with another key .* from {key_file}"):
        Bundle.open(signed_by_session_key)
    monkeypatch.setenv("RECSYS_BUNDLE_KEY", key.strip())  # the same key given as a secret
    assert Bundle.open(path).version == "v1"


def test_a_short_key_fails_before_any_work(models_dir, monkeypatch) -> None:
    monkeypatch.setenv("RECSYS_BUNDLE_KEY", "short")
    with pytest.raises(BundleError, match="bundle key has 5 characters, expected at least 16"):
        with BundleWriter(models_dir, "v1"):
            raise AssertionError("the writer must refuse before the job starts")
    assert not models_dir.exists() or not list(models_dir.iterdir())
