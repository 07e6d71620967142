"""`recsys evaluate` end to end on a tiny planted data directory."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import pipelines
from pipelines.cli import app
from recsys.bundle import Bundle, BundleWriter
from recsys.config import load_config
from recsys.recipe import TrainConfig
from tests.evaluation.test_harness import FAST, make_data_dir

runner = CliRunner()
TUNED_IN_REPO = Path(pipelines.__file__).resolve().parent / "configs" / "tuned"


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_data_dir(tmp_path_factory.mktemp("evaluate") / "tiny")


def test_evaluate_writes_report_metrics_and_tuned_configs(data: Path, tmp_path: Path) -> None:
    config = tmp_path / "fast.toml"
    config.write_text(
        "[cf]\nfactors = 8\niterations = 5\n[content]\nn_components = 4\nmin_df = 1\n"
    )
    report = tmp_path / "report"
    result = runner.invoke(app, [
        "evaluate", "--data", str(data), "--split", "leave_last_out", "--baselines", "popularity",
        "--trials", "1", "--config", str(config), "--out", str(report),
    ])
    assert result.exit_code == 0, result.output
    assert "shipped_tuned" in result.output and "report:" in result.output
    payload = json.loads((report / "metrics.json").read_text())
    assert set(payload["models"]) == {"popularity", "shipped", "shipped_tuned", "feed"}
    assert payload["feed"]["tail_weight"] in [p["tail_weight"] for p in payload["feed"]["ours"]]
    assert payload["meta"]["split"]["method"] == "leave_last_out"
    html = (report / "report.html").read_text()
    # bars, accuracy vs tail, popularity, the feed's tail curves
    assert html.count("data:image/png;base64,") == 4
    # without --tuned-dir the tuned configs sit beside the report, not in the repo's configs
    tuned = load_config(TrainConfig, report / "tiny.toml")
    # tuned from the recipe (its first fit, factors 8) or a draw of the space
    assert tuned.cf.factors in (8, 32, 64, 128) and tuned.cf.iterations == 5
    assert (report / "tiny.baselines.toml").is_file()
    assert f"tuned config: {report / 'tiny.toml'}" in result.output
    assert not (TUNED_IN_REPO / "tiny.toml").exists()


def test_evaluate_with_bundle_evaluates_its_recipe_and_records_results(
    data: Path, tmp_path: Path
) -> None:
    per_circle = {"c0": {"f1": 0.7}, "c1": {"f1": 0.4}}
    with BundleWriter(tmp_path / "models") as writer:
        writer.write_array("item_vectors", np.ones((4, 2), np.float32))
        root = writer.commit(
            config=FAST.model_dump(mode="json"),
            metrics={"placement": {"model": {"subsets": {"all": {"per_circle": per_circle}}}}},
        )
    result = runner.invoke(app, [
        "evaluate", "--data", str(data), "--bundle", str(root), "--split", "random",
        "--baselines", "", "--trials", "1", "--out", str(tmp_path / "report"),
        "--tuned-dir", str(tmp_path / "tuned"),
    ])
    assert result.exit_code == 0, result.output
    manifest = Bundle.open(root).manifest  # still verifies
    entry = manifest.metrics["evaluation"]
    assert entry["dataset"] == "tiny"
    assert set(entry["models"]) == {"shipped", "shipped_tuned", "feed"}
    assert entry["split"]["method"] == "random"
    payload = json.loads((tmp_path / "report" / "metrics.json").read_text())
    assert payload["placement_f1"] == {"c0": 0.7, "c1": 0.4}
    assert entry["models"]["shipped"]["ndcg@10"] == pytest.approx(
        payload["models"]["shipped"]["ndcg@10"])
    assert "bundle " + root.name in payload["meta"]["shipped recipe"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--split", "weekly"], "--split must be one of"),
        (["--baselines", "slim"], "unknown baseline"),
        (["--bundle", "nowhere"], "no such bundle folder"),
        (["--trials-for", "eas=1"], "trials given for model(s) ['eas'] that do not run"),
        (["--baselines", "popularity", "--trials-for", "ease=1"], "['ease'] that do not run"),
        (["--trials-for", "ease=x"], "'ease=x': the trial count must be a whole number >= 1"),
        (["--trials-for", "ease=0"], "trial counts must be whole numbers >= 1"),
        (["--trials-for", "ease"], "'ease' is not MODEL=N"),
        (["--test", "nowhere.csv"], "nowhere.csv: test file not found"),
        (["--test", "nowhere.csv", "--split", "random"], "--test fixes the split"),
    ],
)
def test_bad_options_fail_with_a_clear_error(data: Path, args: list[str], message: str) -> None:
    result = runner.invoke(app, ["evaluate", "--data", str(data), *args])
    assert result.exit_code == 1
    assert message in result.output


def test_evaluate_a_split_of_your_own_with_per_model_trials(data: Path, tmp_path: Path) -> None:
    """`--test FILE` names the test rows; unknown ids are counted and printed, and
    `--trials-for` sets one model's trial count."""
    events = pd.read_parquet(data / "events")
    chosen = events.groupby("user_id").tail(2)[["user_id", "item_id", "ts"]]
    ghost = pd.DataFrame({"user_id": ["ghost"], "item_id": ["i0"], "ts": [chosen["ts"].iloc[0]]})
    test = tmp_path / "test.parquet"
    pd.concat([chosen, ghost]).to_parquet(test)
    config = tmp_path / "fast.toml"
    config.write_text("[cf]\nfactors = 8\niterations = 5\n[content]\nn_components = 4\n")
    report = tmp_path / "report"
    result = runner.invoke(app, [
        "evaluate", "--data", str(data), "--test", str(test), "--baselines", "popularity",
        "--trials", "1", "--trials-for", "popularity=2,shipped=1", "--config", str(config),
        "--out", str(report),
    ])
    assert result.exit_code == 0, result.output
    n = len(chosen)
    assert (f"test rows: {n + 1} read, 1 unknown users, 0 unknown items (not evaluated); "
            f"{n} found in the data, 0 added;") in result.output
    payload = json.loads((report / "metrics.json").read_text())
    split = payload["meta"]["split"]
    assert split["method"] == "fixed" and split["source"] == "test.parquet"
    assert split["test_rows_unknown_user"] == 1
    assert "{'popularity': 2, 'shipped': 1}" in payload["meta"]["tuning"]
    assert payload["meta"]["content map"] == "fitted"
