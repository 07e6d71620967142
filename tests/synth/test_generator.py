"""Determinism, frozen defaults, custom catalogues and the command line."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from recsys.circles import Circle, CircleCatalogue
from recsys.datastore import DataDir
from recsys.errors import ConfigError
from recsys.synth import SynthConfig, generate


def _digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*.parquet"))
    }


def test_same_config_gives_identical_files(tmp_path):
    cfg = SynthConfig(n_users=800, seed=11, chunk_users=300)
    generate(cfg, tmp_path / "a")
    generate(cfg, tmp_path / "b")
    a, b = _digests(tmp_path / "a"), _digests(tmp_path / "b")
    assert a == b
    assert "truth/user_interests.parquet" in a and "events/part-00002.parquet" in a


def test_another_seed_gives_other_data(tmp_path):
    generate(SynthConfig(n_users=300, seed=1), tmp_path / "a")
    generate(SynthConfig(n_users=300, seed=2), tmp_path / "b")
    assert (
        _digests(tmp_path / "a")["events/part-00000.parquet"]
        != _digests(tmp_path / "b")["events/part-00000.parquet"]
    )


# The defaults are frozen: later work may add knobs, never change these values.
FROZEN_DEFAULTS = {
    "n_users": 10_000, "n_items": None, "items_per_user": 0.1, "seed": 0,
    "end": datetime(2025, 1, 1, tzinfo=UTC), "span_days": 366, "signup_history_days": 730,
    "signup_before_start_share": 0.6, "interests_per_user": 3.0, "max_interests": 8,
    "dirichlet_alpha": 1.0, "circle_popularity_exponent": 0.7, "member_threshold": 0.2,
    "tier_boost": 20.0, "noise_share": 0.2, "events_per_user": 10.0, "activity_sigma": 1.0,
    "post_event_share": 0.3, "extra_views": 0.3, "like_prob": 0.2, "comment_prob": 0.05,
    "share_prob": 0.05, "purchase_prob": 0.12, "post_like_prob": 0.15, "post_comment_prob": 0.05,
    "post_share_prob": 0.02, "popularity_exponent": 0.8, "head_share": 0.2,
    "group_buy_item_share": 0.15, "group_buy_tail_share": 0.95, "new_item_share": 0.3,
    "delisted_share": 0.03, "posts_per_user": 1.0, "posting_sigma": 1.5,
    "review_post_share": 0.4, "deleted_post_share": 0.02, "post_words": 12,
    "circle_word_share": 0.5, "friends_per_user": 8.0, "friends_sigma": 1.0, "homophily": 0.7,
    "friend_delay_days": 30.0, "blocked_share": 0.01, "opt_out_share": 0.05,
    "group_buy_start_prob": 0.7, "group_buy_fanout": 4.0, "join_prob_interested": 0.6,
    "join_prob_other": 0.1, "group_sizes": (2, 3, 5), "group_duration_hours": 24.0,
    "chunk_users": 100_000, "progress": False, "post_affinity": 0.0,
}  # fmt: skip


def test_defaults_are_frozen():
    assert SynthConfig().model_dump() == FROZEN_DEFAULTS
    assert SynthConfig().items == 1000
    assert SynthConfig(n_users=100).items == 50


def test_config_rejects_unknown_and_bad_knobs():
    from recsys.config import load_config

    with pytest.raises(ConfigError):
        load_config(SynthConfig, None, n_user=5)
    with pytest.raises(ConfigError):
        load_config(SynthConfig, None, noise_share=1.5)
    with pytest.raises(ConfigError):
        load_config(SynthConfig, None, group_sizes=(1, 3))


def test_any_catalogue_works(tmp_path):
    catalogue = CircleCatalogue(
        (
            Circle("tea", "茶", "Tea", ("green_tea", "oolong")),
            Circle("bikes", "单车", "Bikes", ("road_bikes",)),
            Circle("solo", "独", "Solo Circle", ()),
        )
    )
    counts = generate(SynthConfig(n_users=400, seed=3), tmp_path / "d", catalogue)
    data = DataDir(tmp_path / "d")
    assert counts["circles"] == 3
    posts = data.read_table("posts").to_pydict()
    assert set(posts["circle_id"]) <= {"tea", "bikes", "solo"}
    categories = set(data.read_table("items").column("category").to_pylist())
    assert categories <= {"green_tea", "oolong", "road_bikes", "solo_goods"}


def test_tiny_and_degenerate_configs_work(tmp_path):
    cfg = SynthConfig(n_users=3, n_items=2, seed=0, posts_per_user=0, friends_per_user=0,
                      group_buy_item_share=1.0)  # fmt: skip
    counts = generate(cfg, tmp_path / "d")
    assert counts["users"] == 3 and counts["posts"] == 0
    for name in counts:
        DataDir(tmp_path / "d").read_table(name)


def test_cli_generates_and_prints_counts(tmp_path):
    from pipelines.cli import app

    result = CliRunner().invoke(
        app,
        [
            "synth",
            "--users",
            "300",
            "--items",
            "60",
            "--seed",
            "5",
            "--out",
            str(tmp_path / "d"),
            "--no-progress",
        ],  # fmt: skip
    )
    assert result.exit_code == 0, result.output
    assert "events" in result.output and "300" in result.output
    assert DataDir(tmp_path / "d").read_table("items").num_rows == 60


def test_cli_reports_a_bad_knob(tmp_path):
    from pipelines.cli import app

    result = CliRunner().invoke(app, ["synth", "--users", "0", "--out", str(tmp_path / "d")])
    assert result.exit_code == 2
    assert "n_users" in result.output


def test_docs_list_every_knob_with_its_default(project_root):
    text = (project_root / "docs" / "synth.md").read_text(encoding="utf-8")
    rows = {
        line.split("|")[1].strip().strip("`"): line.split("|")[2].strip().strip("`")
        for line in text.splitlines()
        if line.startswith("| `")
    }
    for name, field in SynthConfig.model_fields.items():
        assert name in rows, f"docs/synth.md lacks knob {name}"
        default = field.default
        shown = default.isoformat() if isinstance(default, datetime) else repr(default)
        assert rows[name] == shown, f"docs/synth.md shows {name} = {rows[name]}, not {shown}"
