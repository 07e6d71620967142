"""The recipe as one typed config; `pipelines/configs/default.toml` documents every key.

Training fits it, evaluation measures and tunes it, the shipped scorer carries it: a neutral
module, so neither training nor evaluation imports the other for it.

Precedence: command-line overrides > the TOML file > the defaults below. Unknown keys fail.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, field_validator

from recsys.config import FrozenConfig
from recsys.content.encoder import ContentEncoder
from recsys.errors import ConfigError
from recsys.features.interactions import InteractionConfig
from recsys.feeds.config import RankedConfig, RankerConfig
from recsys.feeds.feed_config import CircleFeedConfig, FeedConfig
from recsys.index.vector_index import IndexConfig
from recsys.social.share_targeting import ShareTargetingConfig


class CFConfig(FrozenConfig):
    """Collaborative filtering on the confidence matrix (implicit's ALS or BPR)."""

    model: Literal["als", "bpr"] = "als"
    factors: int = Field(64, gt=0)
    # Chosen on validation splits of ML-1M, Last.fm and Amazon Beauty together (one recipe
    # for every data set; bench/results/datasets.md): alpha 1 / reg 0.05 underfit all three.
    regularization: float = Field(10.0, ge=0)
    iterations: int = Field(15, gt=0)
    alpha: float = Field(5.0, gt=0, description="ALS only: confidence = 1 + alpha * weight")
    learning_rate: float = Field(0.01, gt=0, description="BPR only")

    def model_kwargs(self, seed: int) -> dict[str, object]:
        common = {
            "factors": self.factors,
            "regularization": self.regularization,
            "iterations": self.iterations,
            "random_state": seed,
        }
        if self.model == "als":
            return {**common, "alpha": self.alpha}
        return {**common, "learning_rate": self.learning_rate}


class ItemKNNConfig(FrozenConfig):
    """Sparse item-item neighbours blended with the CF scores (the shipped scorer).

    Each user's CF and item-item scores are scaled by their per-user maximum and mixed as
    ``(1 - weight) * cf + weight * item_knn``; weight 0 serves CF alone and fits no neighbours.
    """

    weight: float = Field(0.0, ge=0, le=1, description="share of item-item scores; 0 disables")
    k: int = Field(300, gt=0, description="neighbours kept per item")
    similarity: Literal["cosine", "bm25", "tfidf", "rp3beta"] = "cosine"
    rp3_alpha: float = Field(1.0, gt=0, description="rp3beta only: power of the walk's steps")
    rp3_beta: float = Field(0.5, ge=0, description="rp3beta only: popularity penalty")

    def model_kwargs(self) -> dict[str, object]:
        """`ItemKNNRecommender` keyword arguments of these settings."""
        return {"k": self.k, "similarity": self.similarity, "rp3_alpha": self.rp3_alpha,
                "rp3_beta": self.rp3_beta}


class ContentConfig(FrozenConfig):
    """Content embeddings of item texts and the map from content space to CF factor space."""

    n_components: int = Field(64, gt=0)
    max_features: int = Field(100_000, gt=0)
    min_df: int = Field(2, ge=1)
    analyzer: Literal["word", "char_wb"] = "word"
    min_text_coverage: float = Field(
        0.5, ge=0, le=1,
        description="skip the content map when fewer item documents hold a telling term",
    )
    map_alpha: float = Field(1.0, gt=0, description="ridge penalty of the content->factor map")
    warm_min_users: int = Field(
        2, ge=1, description="items with fewer distinct users get content-mapped vectors"
    )
    evaluate_cold_start: bool = Field(
        True, description="hide a share of items, retrain CF, and measure their content vectors"
    )
    cold_item_share: float = Field(0.1, gt=0, lt=1)
    cold_max_pairs: int = Field(
        100_000, gt=0, description="rank at most this many (buyer, cold item) pairs (a sample)"
    )

    def encoder(self, seed: int) -> ContentEncoder:
        """An unfitted encoder with these settings."""
        return ContentEncoder(
            n_components=self.n_components,
            max_features=self.max_features,
            min_df=self.min_df,
            analyzer=self.analyzer,
            random_state=seed,
            min_text_coverage=self.min_text_coverage,
        )


class PlacementConfig(FrozenConfig):
    """Circle placement learned from users whose UGC shows their circles."""

    C: float = Field(1.0, gt=0)
    calibration: Literal["sigmoid", "isotonic", "none"] = "sigmoid"
    min_members: int = Field(1, ge=0)


class ShareConfig(FrozenConfig):
    """Share targeting learned from past group buys (docs/share-targeting.md)."""

    enabled: bool = True
    min_groups: int = Field(
        30, ge=2, description="fewer group buys with a joiner among friends skip share targeting"
    )
    valid_share: float = Field(
        0.15, gt=0, lt=1,
        description="newest share of group buys: stops and calibrates the ranker, fits completion",
    )
    ranker: ShareTargetingConfig = ShareTargetingConfig()

    @field_validator("ranker")
    @classmethod
    def _seeded_by_the_run(cls, ranker: ShareTargetingConfig) -> ShareTargetingConfig:
        if ranker.random_state != ShareTargetingConfig().random_state:
            raise ValueError("random_state: the run's top-level seed seeds the ranker; omit it")
        return ranker


class RankedRankerConfig(RankerConfig):
    """The ranker of the training step: one LightGBM thread by default."""

    num_threads: int = Field(1, ge=0, description="LightGBM threads; 0: OpenMP's default")


class RankedStepConfig(RankedConfig):
    """The recommender the runtime serves to known users with history: candidate sources ->
    learned ranker (`recsys.recommenders.ranked`), fitted on the training matrix with the side
    data training has, and saved as the bundle's optional `ranked` part. Off: the shipped
    scorer serves them, as it serves fold-in, similar items, indexes and segments anyway.

    Defaults are `RankedConfig`'s except the tuning budget (`recsys train` on 2 cores stays
    within minutes at 25k users; bench/results/ranker.md) and one LightGBM thread (two threads
    on busy cores spin, several times slower on small data)."""

    enabled: bool = True
    tune_budget_s: float = Field(
        120.0, ge=0, description="seconds for searching the sources' settings; 0: none")
    ranker: RankedRankerConfig = RankedRankerConfig()

    @field_validator("seed")
    @classmethod
    def _seeded_by_the_run(cls, seed: int) -> int:
        if seed != RankedConfig().seed:
            raise ValueError("seed: the run's top-level seed seeds the ranked model; omit it")
        return seed

    def recipe(self, seed: int) -> RankedConfig:
        """The `RankedRecommender` recipe of this step, seeded by the run."""
        return RankedConfig.model_validate(
            {**self.model_dump(mode="json", exclude={"enabled"}), "seed": seed})


class ListsConfig(FrozenConfig):
    """Popularity and cold-start candidate lists."""

    head_share: float = Field(0.8, gt=0, le=1)
    per_circle: int = Field(200, gt=0)
    trending_days: float = Field(7.0, gt=0)


class BundleConfig(FrozenConfig):
    """Where bundles go and how promotion guards against regressions."""

    models_dir: str = "models"
    promote_tolerance: float = Field(0.02, ge=0)
    guarded_metrics: tuple[str, ...] = (
        "placement.model.subsets.all.macro_f1",
        "holdout.ndcg@10",
    )


class BacktestConfig(FrozenConfig):
    """One more fit of the shipped scorer on the events before a time cut, kept in the bundle
    so audience segments can say how their reach back-tests (docs/segments.md)."""

    enabled: bool = True
    days: float = Field(
        30.0, gt=0, description="held-out period: the last N days of the data's events"
    )


class SegmentsConfig(FrozenConfig):
    """How audience segments score users over this bundle (docs/segments.md); chosen on
    validation worlds (bench/results/segments.md) and read by `recsys.segments` at serve time."""

    pooling: Literal["mean", "max"] = Field(
        "mean", description="item, brand and category targets: mean or max over item vectors"
    )
    seed_method: Literal["centroid", "knn"] = "centroid"
    knn_k: int = Field(10, ge=1, description="seeds averaged per user with seed_method knn")
    activity_weight: float = Field(
        1.0, ge=0, description="weight of users' recent activity beside their similarity"
    )
    recent_days: float = Field(30.0, gt=0, description="recent activity = events of N days")


class TrainConfig(FrozenConfig):
    seed: int = 0
    interactions: InteractionConfig = InteractionConfig()
    cf: CFConfig = CFConfig()
    item_knn: ItemKNNConfig = ItemKNNConfig()
    content: ContentConfig = ContentConfig()
    placement: PlacementConfig = PlacementConfig()
    index: IndexConfig = IndexConfig()
    lists: ListsConfig = ListsConfig()
    share: ShareConfig = ShareConfig()
    ranked: RankedStepConfig = RankedStepConfig()
    bundle: BundleConfig = BundleConfig()
    feed: FeedConfig = FeedConfig()
    circle_feed: CircleFeedConfig = CircleFeedConfig()
    backtest: BacktestConfig = BacktestConfig()
    segments: SegmentsConfig = SegmentsConfig()
    holdout_fraction: float = Field(
        0.1,
        ge=0,
        lt=1,
        description="per-user random holdout for the manifest's quick metrics; 0 skips",
    )
    holdout_max_users: int = Field(
        20_000, gt=0, description="score the holdout for at most this many users (a sample)"
    )
    validation_max_users: int = Field(
        1_000_000,
        gt=0,
        description="the validation fit runs on a seeded sample of this many users with pairs "
        "when there are more (its figures are per user; its fit cost grows with users)",
    )


def with_cf_params(config: TrainConfig, params: Mapping[str, Any]) -> TrainConfig:
    """`config` updated by `params`: plain keys go to `[cf]`, "section.key" to that section
    (validated, unknown keys fail)."""
    data = config.model_dump(mode="json")
    for key, value in params.items():
        section, _, name = key.rpartition(".")
        section = section or "cf"
        if not isinstance(data.get(section), dict):
            raise ConfigError(f"unknown config section {section!r} in tuned key {key!r}")
        data[section] = {**data[section], name: value}
    return TrainConfig.model_validate(data)
