"""The recommender's recipe as typed config: a chain of candidate sources, then a learned ranker.

`pipelines/configs/ranked.toml` shows every key with its default and says why. Unknown keys
fail (`FrozenConfig`), so a typo in a recipe never falls back to a default silently.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from recsys.config import FrozenConfig

SourceKind = Literal[
    "ease", "itemknn", "rp3beta", "als", "popularity", "friends", "circle_trending", "content"
]
#: Kinds that wrap a registered recommender (the others read side data).
MODEL_KINDS: tuple[str, ...] = ("ease", "itemknn", "rp3beta", "als", "popularity")
LabelSplit = Literal["auto", "temporal", "last", "random"]


class SourceConfig(FrozenConfig):
    """One candidate source of the chain.

    A source proposes its top `n` unseen items per user and scores every candidate of the
    merged list, so its score and rank are ranker features; `n = 0` makes it a feature only.
    """

    name: str = Field(min_length=1, description="unique label; names its features")
    kind: SourceKind
    n: int = Field(100, ge=0, description="candidates it proposes per user; 0: features only")
    params: dict[str, float | int | str | bool] = Field(
        default_factory=dict, description="settings of the wrapped model (its constructor)")
    tune: bool = Field(True, description="search its key settings on the label fold")


def _default_sources() -> tuple[SourceConfig, ...]:
    return (
        SourceConfig(name="ease", kind="ease", n=100, params={"l2": 500.0}),
        SourceConfig(name="rp3beta", kind="rp3beta", n=100,
                     params={"k": 200, "rp3_alpha": 0.6, "rp3_beta": 0.3}),
        SourceConfig(name="als", kind="als", n=100,
                     params={"factors": 64, "regularization": 10.0, "alpha": 5.0}),
        SourceConfig(name="itemknn", kind="itemknn", n=0, tune=False,
                     params={"k": 200, "similarity": "cosine"}),
        SourceConfig(name="popularity", kind="popularity", n=20, tune=False),
        SourceConfig(name="friends", kind="friends", n=30, tune=False),
        SourceConfig(name="circle_trending", kind="circle_trending", n=30, tune=False),
        SourceConfig(name="content", kind="content", n=30, tune=False),
    )


class RankerConfig(FrozenConfig):
    """LightGBM lambdarank over (user, candidate) features, learned on the label fold."""

    objectives: tuple[Literal["lambdarank", "rank_xendcg"], ...] = Field(
        ("lambdarank", "rank_xendcg"), min_length=1,
        description="LightGBM ranking objectives tried; the best on held-out users wins")
    learning_rate: float = Field(0.05, gt=0, le=1)
    num_leaves: tuple[int, ...] = Field(
        (31,), min_length=1, description="tried with each objective; the best held out wins")
    min_data_in_leaf: int = Field(50, ge=1)
    max_rounds: int = Field(400, ge=1, description="boosting rounds at most (early stopping)")
    early_stopping: int = Field(30, ge=1, description="rounds without gain before stopping")
    valid_share: float = Field(0.2, gt=0, lt=1, description="label users held out for stopping")
    max_rows: int = Field(3_000_000, gt=0, description="cap on training rows (a user sample)")
    max_scored_cells: int = Field(
        1 << 34, gt=0, description="cap on users x items x sources scored for the training "
        "rows (a user sample; a quarter of it for the users choosing what serves): on a big "
        "catalogue each label user's dense scores cost more than their rows")
    num_threads: int = Field(2, ge=0, description="LightGBM threads; 0: OpenMP's default")


class RankedConfig(FrozenConfig):
    """Candidate sources -> learned ranker: the recommender's recipe."""

    seed: int = 0
    sources: tuple[SourceConfig, ...] = Field(default_factory=_default_sources, min_length=1)
    label_split: LabelSplit = Field(
        "auto", description="how the ranker's label fold is carved from the training data")
    label_fraction: float = Field(0.2, gt=0, lt=1, description="share held out as labels")
    ease_max_items: int = Field(
        20_000, ge=1, description="EASE is left out (logged) above this many items")
    tune_budget_s: float = Field(
        300.0, ge=0, description="seconds for searching the sources' settings; 0: none")
    tune_trials: int = Field(6, ge=1, description="settings tried per tuned source at most")
    max_tune_users: int = Field(
        10_000, gt=0, description="label users scored per tuning trial (a seeded sample)")
    recent_items: int = Field(5, ge=1, description="a user's latest items kept for features")
    max_fit_users: int = Field(
        1_000_000, gt=0, description="users the first fit (label fold, tuning, sources, ranker "
        "rows) runs on; above, a seeded sample of them: the final fit still sees everyone")
    ranker: RankerConfig = RankerConfig()

    @field_validator("sources")
    @classmethod
    def _unique_names(cls, sources: tuple[SourceConfig, ...]) -> tuple[SourceConfig, ...]:
        names = [s.name for s in sources]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"source names must be unique; repeated: {dupes}")
        if not any(s.n > 0 for s in sources):
            raise ValueError("at least one source must propose candidates (n > 0)")
        return sources
