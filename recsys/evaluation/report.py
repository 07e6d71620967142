"""A self-contained evaluation report: `metrics.json` plus `report.html` with embedded plots.

The HTML carries its PNGs as base64 so it can be mailed or attached to a model bundle as one
file. Figures are built with `matplotlib.figure.Figure` (no pyplot), so no global backend state
is touched and reports can be written from worker threads.
"""

from __future__ import annotations

import base64
import html
import io
import json
import logging
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from recsys.errors import InvalidInputError

logger = logging.getLogger(__name__)

PANEL_METRICS = (
    "recall", "ndcg", "map", "hit_rate", "mrr", "coverage", "long_tail_share", "novelty", "gini"
)
RECALL_NOTE = (
    "Recall@K = hits / min(K, |relevant|) (as in the EASE and Mult-VAE papers), so it can fall "
    "as K grows. All metrics rank the full catalogue (no sampled negatives) with the user's "
    "training items excluded; users without test items are left out of the means."
)


def _png(fig: Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _first_k(results: Mapping[str, Mapping[str, float]]) -> int:
    ks = sorted({int(key.split("@")[1]) for m in results.values() for key in m if "@" in key})
    if not ks:
        raise InvalidInputError("results carry no metric@k keys")
    return ks[0]


def plot_metric_bars(results: Mapping[str, Mapping[str, float]], k: int) -> Figure:
    """One small bar chart per metric, one bar per model."""
    names = [m for m in PANEL_METRICS if any(f"{m}@{k}" in r for r in results.values())]
    models = list(results)
    cols = 3
    fig = Figure(figsize=(4.0 * cols, 2.6 * math.ceil(len(names) / cols)))
    colors = [f"C{i}" for i in range(len(models))]
    for i, name in enumerate(names):
        ax = fig.add_subplot(math.ceil(len(names) / cols), cols, i + 1)
        values = [results[m].get(f"{name}@{k}", np.nan) for m in models]
        bars = ax.bar(range(len(models)), values, color=colors)
        ax.bar_label(bars, fmt="%.3f", fontsize=7)
        ax.set_xticks(range(len(models)), models, rotation=30, ha="right", fontsize=8)
        ax.set_title(f"{name}@{k}" + (" (bits)" if name == "novelty" else ""), fontsize=10)
        ax.margins(y=0.2)
    fig.tight_layout()
    return fig


def plot_accuracy_vs_tail(results: Mapping[str, Mapping[str, float]], k: int) -> Figure:
    """NDCG@k against long-tail share@k: the accuracy a model pays for reaching the tail."""
    fig = Figure(figsize=(5.5, 4.0))
    ax = fig.add_subplot()
    for i, (model, r) in enumerate(results.items()):
        x, y = r.get(f"long_tail_share@{k}", np.nan), r.get(f"ndcg@{k}", np.nan)
        ax.scatter([x], [y], s=60, color=f"C{i}")
        ax.annotate(model, (x, y), textcoords="offset points", xytext=(6, 4), fontsize=9)
    ax.set_xlabel(f"long-tail share of recommendations @{k}")
    ax.set_ylabel(f"NDCG@{k}")
    ax.set_title("accuracy vs long-tail exposure")
    ax.grid(alpha=0.3)
    ax.margins(0.15)
    return fig


def plot_exposure_vs_catalogue(
    item_popularity: np.ndarray, exposure: Mapping[str, np.ndarray]
) -> Figure:
    """Cumulative share of recommendations over items ordered from most to least popular.

    The "training interactions" curve is the catalogue's own concentration; a model above it
    concentrates on popular items even more than users do.
    """
    pop = np.asarray(item_popularity, dtype=np.float64)
    order = np.argsort(-pop, kind="stable")
    x = np.arange(1, len(pop) + 1) / len(pop)
    fig = Figure(figsize=(6.0, 4.2))
    ax = fig.add_subplot()
    ax.plot(x, np.cumsum(pop[order]) / max(pop.sum(), 1), "k--", label="training interactions")
    for i, (model, counts) in enumerate(exposure.items()):
        counts = np.asarray(counts, dtype=np.float64)[order]
        ax.plot(x, np.cumsum(counts) / max(counts.sum(), 1), color=f"C{i}", label=model)
    ax.set_xlabel("share of items, most popular first")
    ax.set_ylabel("cumulative share")
    ax.set_title("popularity of recommended items vs catalogue")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def plot_tail_curves(feed: Mapping[str, Any], k: int = 10) -> Figure:
    """NDCG@k against long-tail share@k (and group-buy share@k) over `tail_weight`: ours and
    the naive boost on test, the picked weight marked."""
    shares = [f"long_tail_share@{k}"]
    if feed["ours"] and f"group_buy_share@{k}" in feed["ours"][0]:
        shares.append(f"group_buy_share@{k}")
    fig = Figure(figsize=(5.5 * len(shares), 4.0))
    for i, share in enumerate(shares):
        ax = fig.add_subplot(1, len(shares), i + 1)
        for name, style in (("ours", "o-"), ("naive", "s--")):
            points = feed[name]
            ax.plot([p[share] for p in points], [p[f"ndcg@{k}"] for p in points], style,
                    label="ours (personal, page in plain order)" if name == "ours"
                    else "naive boost (score + w * is_tail)", markersize=4)
        picked = next((p for p in feed["ours"] if p["tail_weight"] == feed["tail_weight"]),
                      None)
        if picked is not None:
            ax.plot([picked[share]], [picked[f"ndcg@{k}"]], "r*", markersize=14,
                    label=f"picked on validation: tail_weight {feed['tail_weight']}")
        if share.startswith("group_buy") and "group_buy_share_of_test" in feed:
            ax.axvline(feed["group_buy_share_of_test"], color="grey", linestyle=":",
                       label="group-buy share of test interactions")
        ax.set_xlabel(share)
        ax.set_ylabel(f"NDCG@{k}")
        ax.legend(fontsize=7)
    return fig


def plot_placement_f1(placement: Mapping[str, float]) -> Figure:
    """Per-circle F1 of circle placement, worst first."""
    circles = sorted(placement, key=lambda c: placement[c])
    fig = Figure(figsize=(6.0, 0.3 * len(circles) + 1.2))
    ax = fig.add_subplot()
    bars = ax.barh(circles, [placement[c] for c in circles], color="C2")
    ax.bar_label(bars, fmt="%.2f", fontsize=7)
    ax.set_xlim(0, 1.08)
    ax.set_xlabel("F1")
    ax.set_title("circle placement: F1 per circle")
    return fig


def _json_safe(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _table(results: Mapping[str, Mapping[str, float]]) -> str:
    keys = sorted({key for r in results.values() for key in r})
    head = "".join(f"<th>{html.escape(k)}</th>" for k in keys)
    rows = []
    for model, r in results.items():
        cells = "".join(f"<td>{r[k]:.4f}</td>" if k in r else "<td></td>" for k in keys)
        rows.append(f"<tr><th>{html.escape(model)}</th>{cells}</tr>")
    return f"<table><tr><th>model</th>{head}</tr>{''.join(rows)}</table>"


def write_report(
    out_dir: str | Path,
    results: Mapping[str, Mapping[str, float]],
    *,
    item_popularity: np.ndarray,
    exposure: Mapping[str, np.ndarray],
    placement: Mapping[str, float] | None = None,
    meta: Mapping[str, Any] | None = None,
    feed: Mapping[str, Any] | None = None,
) -> Path:
    """Write `metrics.json` and `report.html` into `out_dir`; returns the HTML path.

    Parameters
    ----------
    results : model -> metrics dict from `evaluate_model`.
    item_popularity : (n_items,) training interactions per item (the dashed reference curve).
    exposure : model -> (n_items,) times each item was recommended (`Comparison.exposure`).
    placement : circle -> F1 of circle placement, plotted when given.
    meta : data set, split, command, seed... shown at the top and stored in the JSON.
    feed : the feed's long-tail curves (`EvaluationResult.feed`), drawn when given.
    """
    if not results:
        raise InvalidInputError("no results to report")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    meta = dict(meta or {})
    payload = {"meta": meta, "recall_definition": RECALL_NOTE, "models": results}
    if placement is not None:
        payload["placement_f1"] = placement
    if feed is not None:
        payload["feed"] = feed
    (out / "metrics.json").write_text(json.dumps(_json_safe(payload), indent=2, sort_keys=True))
    k = _first_k(results)
    figures = [
        ("Metrics per model", plot_metric_bars(results, k)),
        ("Accuracy vs long-tail share", plot_accuracy_vs_tail(results, k)),
        ("Popularity of recommended items", plot_exposure_vs_catalogue(item_popularity, exposure)),
    ]
    if feed is not None:
        figures.append(("Feed: accuracy against long-tail exposure over tail_weight (test)",
                        plot_tail_curves(feed)))
    if placement:
        figures.append(("Circle placement", plot_placement_f1(placement)))
    meta_rows = "".join(
        f"<tr><th>{html.escape(str(key))}</th><td>{html.escape(str(v))}</td></tr>"
        for key, v in meta.items()
    )
    sections = "".join(
        f'<h2>{html.escape(title)}</h2><img alt="{html.escape(title)}" '
        f'src="data:image/png;base64,{_png(fig)}">'
        for title, fig in figures
    )
    title = html.escape(str(meta.get("title", "recsys evaluation report")))
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title><style>"
        "body{font-family:sans-serif;margin:2em;max-width:1300px}table{border-collapse:collapse;"
        "font-size:12px;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}"
        "img{max-width:100%}</style></head><body>"
        f"<h1>{title}</h1><table>{meta_rows}</table><p>{html.escape(RECALL_NOTE)}</p>"
        f"<h2>All metrics</h2>{_table(results)}{sections}</body></html>"
    )
    path = out / "report.html"
    path.write_text(page, encoding="utf-8")
    logger.info("wrote %s and metrics.json (%d models)", path, len(results))
    return path
