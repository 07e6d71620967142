"""The HTML report is self-contained and metrics.json round-trips."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import numpy as np
import pytest

from recsys.evaluation.report import RECALL_NOTE, write_report

RESULTS = {
    "popularity": {"ndcg@10": 0.2, "recall@10": 0.19, "long_tail_share@10": 0.0,
                   "coverage@10": 0.02, "novelty@10": 1.5, "gini@10": 0.99},
    "ease": {"ndcg@10": 0.43, "recall@10": 0.41, "long_tail_share@10": 0.01,
             "coverage@10": 0.3, "novelty@10": 2.4, "gini@10": float("nan")},
}


def _write(tmp_path: Path, placement: dict[str, float] | None) -> Path:
    pop = np.array([50, 30, 10, 5, 0])
    exposure = {"popularity": np.array([9, 9, 0, 0, 0]), "ease": np.array([3, 4, 5, 5, 1])}
    return write_report(
        tmp_path, RESULTS, item_popularity=pop, exposure=exposure, placement=placement,
        meta={"title": "toy <report>", "dataset": "toy"},
    )


def test_html_embeds_every_plot(tmp_path: Path) -> None:
    page = _write(tmp_path, {"pets": 0.8, "sports": 0.4}).read_text()
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(images) == 4  # metric bars, accuracy vs tail, exposure, placement
    assert all(base64.b64decode(img)[:8] == b"\x89PNG\r\n\x1a\n" for img in images)
    assert "toy &lt;report&gt;" in page
    assert "min(K, |relevant|)" in page
    assert "http" not in page  # self-contained: nothing fetched


def test_metrics_json_round_trips_and_nan_becomes_null(tmp_path: Path) -> None:
    _write(tmp_path, None)
    data = json.loads((tmp_path / "metrics.json").read_text())
    assert data["models"]["ease"]["ndcg@10"] == 0.43
    assert data["models"]["ease"]["gini@10"] is None
    assert data["recall_definition"] == RECALL_NOTE
    assert "placement_f1" not in data
    page = (tmp_path / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 3


def test_empty_results_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no results"):
        write_report(tmp_path, {}, item_popularity=np.ones(3), exposure={})


def test_the_feed_curves_are_drawn_and_stored(tmp_path: Path) -> None:
    def points(shift: float) -> list[dict[str, float]]:
        return [{"tail_weight": w, "ndcg@10": 0.4 - shift * w, "long_tail_share@10": w / 2,
                 "group_buy_share@10": w / 4} for w in (0.0, 0.5, 1.0)]

    feed = {"tail_weight": 0.5, "validation": points(0.05), "ours": points(0.05),
            "naive": points(0.2), "group_buy_share_of_test": 0.1}
    page = write_report(tmp_path, RESULTS, item_popularity=np.array([5, 1]),
                        exposure={"ease": np.array([1, 1])}, feed=feed).read_text()
    assert "Feed: accuracy against long-tail exposure" in page
    assert len(re.findall(r'src="data:image/png;base64,', page)) == 4
    assert json.loads((tmp_path / "metrics.json").read_text())["feed"]["tail_weight"] == 0.5
