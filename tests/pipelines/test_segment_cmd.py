"""`recsys segment`: the library's rules from the command line, guarded --out, one-line errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from recsys.bundle.registry import ModelRegistry
from recsys.runtime import RuntimeModel

runner = CliRunner()


@pytest.fixture(scope="module")
def models(small_bundle, tmp_path_factory) -> Path:
    models = tmp_path_factory.mktemp("segment-models")
    shutil.copytree(small_bundle["bundle"], models / small_bundle["bundle"].name)
    ModelRegistry(models).promote(small_bundle["bundle"].name, force=True)
    return models


@pytest.fixture(scope="module")
def own_items(small_bundle) -> list[str]:
    model = RuntimeModel.load(small_bundle["bundle"])
    rows = np.flatnonzero(model.parts.catalogue.strings("merchant_id") == "m00000")[:3]
    return [str(i) for i in model.parts.ids.items.to_ids(rows)]


def run(tmp_path: Path, models: Path, body: dict, out: str, *extra: str):
    request = tmp_path / "request.json"
    request.write_text(json.dumps(body))
    return runner.invoke(
        app,
        [
            "segment",
            str(request),
            "--merchant",
            "m00000",
            "--out",
            str(tmp_path / out),
            "--models-dir",
            str(models),
            *extra,
        ],
    )


def test_exports_parquet_and_csv_with_ids_and_scores(tmp_path, models, own_items) -> None:
    body = {"target": {"kind": "item", "ids": own_items}, "size": 130}
    result = run(tmp_path, models, body, "seg.parquet")
    assert result.exit_code == 0, result.output
    assert "130 users of" in result.output and "back-tested reach" in result.output
    table = pq.read_table(tmp_path / "seg.parquet")
    assert table.column_names == ["user_id", "score"] and table.num_rows == 130
    scores = table["score"].to_numpy()
    assert (np.diff(scores) <= 0).all()
    assert run(tmp_path, models, body, "seg.csv").exit_code == 0
    csv = pacsv.read_csv(tmp_path / "seg.csv")
    assert csv["user_id"].to_pylist() == table["user_id"].to_pylist()
    again = run(tmp_path, models, body, "seg.parquet")  # its own earlier output: replaced
    assert again.exit_code == 0, again.output


def test_out_it_did_not_write_is_kept_unless_forced(tmp_path, models, own_items) -> None:
    (tmp_path / "mine.csv").write_text("precious\n")
    body = {"target": {"kind": "item", "ids": own_items}, "size": 100}
    result = run(tmp_path, models, body, "mine.csv")
    assert result.exit_code == 1 and "not written by recsys segment" in result.output
    assert (tmp_path / "mine.csv").read_text() == "precious\n"
    assert run(tmp_path, models, body, "mine.csv", "--force").exit_code == 0
    bad = run(tmp_path, models, body, "seg.json")
    assert bad.exit_code == 1 and ".parquet or .csv" in bad.output


def test_scope_rules_and_the_floor_hold(tmp_path, models, small_bundle) -> None:
    model = RuntimeModel.load(small_bundle["bundle"])
    rows = np.flatnonzero(model.parts.catalogue.strings("merchant_id") == "m00001")[:1]
    foreign = [str(i) for i in model.parts.ids.items.to_ids(rows)]
    a = run(tmp_path, models, {"target": {"kind": "item", "ids": foreign}}, "a.parquet")
    b = run(tmp_path, models, {"target": {"kind": "item", "ids": ["nope"]}}, "b.parquet")
    assert a.exit_code == b.exit_code == 1
    assert (
        a.output.strip()
        == b.output.strip()
        == ("error: target names items that are not this merchant's; nothing was computed")
    )
    assert not (tmp_path / "a.parquet").exists()
    small = run(
        tmp_path,
        models,
        {"target": {"kind": "circle", "ids": [model.catalogue.ids[0]]}, "size": 10},
        "c.parquet",
    )
    assert small.exit_code == 1 and "below the floor of 100" in small.output


def test_bad_request_files_are_one_line(tmp_path, models) -> None:
    (tmp_path / "r.json").write_text("{not json")
    result = runner.invoke(
        app,
        [
            "segment",
            str(tmp_path / "r.json"),
            "--merchant",
            "m",
            "--out",
            str(tmp_path / "o.csv"),
            "--models-dir",
            str(models),
        ],
    )
    assert result.exit_code == 1 and "not valid JSON" in result.output
    result = run(tmp_path, models, {"target": {"kind": "shop", "ids": ["x"]}}, "o.csv")
    assert result.exit_code == 1 and "target.kind" in result.output
    assert len(result.output.strip().splitlines()) == 1
