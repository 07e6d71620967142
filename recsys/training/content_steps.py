"""The content steps of training: item documents, the text encoder, the content -> factor map
that places cold items in CF space, and the cold-start measurement of that map.

Items whose documents do not tell them apart (ids for titles, no posts) give no map: training
records why (`metrics.content`) and every item keeps its CF factors.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from recsys.content.cold_start import evaluate_cold_items, place_cold_items
from recsys.content.documents import item_documents
from recsys.content.encoder import ContentEncoder, NoUsableTextError
from recsys.content.placer import ContentPlacer
from recsys.datastore import DataDir
from recsys.idmap import IdMap
from recsys.recommenders.base import Recommender
from recsys.training.config import TrainConfig

logger = logging.getLogger("recsys.training.steps")


@dataclass(frozen=True)
class ItemTexts:
    """Each item's document twice, in item-index order: with the UGC posts that name it, and
    with its catalogue fields only (what a brand-new item has before anyone posts about it)."""

    full: list[str]
    catalogue_only: list[str]


def item_texts(data: DataDir, items: IdMap) -> ItemTexts:
    return ItemTexts(
        full=item_documents(data, items),
        catalogue_only=item_documents(data, items, max_post_chars=0),
    )


@dataclass(frozen=True)
class ContentFit:
    """The content encoder fitted on every item's document, or why there is none."""

    encoder: ContentEncoder | None
    #: (n_items, n_components_) float32 content vectors; None when skipped.
    vectors: np.ndarray | None
    #: Why the content map is skipped (the items have no usable text); None when fitted.
    skipped: str | None = None
    #: `ContentEncoder.text_coverage_`, when the encoder got as far as measuring it.
    text_coverage: float | None = None


def fit_content(documents: list[str], config: TrainConfig) -> ContentFit:
    """Fit the encoder; items whose documents do not tell them apart (ids for titles, no
    posts) give no content map, which is a property of the data, not a failed run."""
    encoder = config.content.encoder(config.seed)
    try:
        vectors = encoder.fit_transform(documents)
    except NoUsableTextError as exc:
        return _skip_content(f"items have no usable text: {exc}",
                             getattr(encoder, "text_coverage_", None))
    return ContentFit(encoder, vectors, text_coverage=encoder.text_coverage_)


def _skip_content(reason: str, coverage: float | None = None) -> ContentFit:
    logger.warning(
        "content map skipped (%s): cold items keep their CF factors and items added by "
        "`recsys refresh` get no vector until the next retrain", reason,
    )
    return ContentFit(None, None, reason, coverage)


def cold_start_report(
    model: Recommender,
    train: sp.csr_matrix,
    hidden: sp.csr_matrix,
    cold: np.ndarray,
    texts: ItemTexts,
    item_category: np.ndarray,
    config: TrainConfig,
    purchases: sp.csr_matrix | None = None,
) -> dict[str, object]:
    """Rank each hidden cold item within its category, by content-mapped vectors, for the users
    who bought it (`buyers`) and for every user who interacted with it (`all_users`).

    The content encoder is refitted on the warm items' documents only: new items arrive after
    the encoder was fitted. Two placements of the cold items are measured: from their catalogue
    fields alone (a brand-new item) and with the UGC posts that name them (the item once people
    post about it, as `recsys refresh` sees it); posts follow purchases, so the second one
    carries some signal of the hidden interactions and reads as an upper bound.
    Baselines on the same candidates: training popularity (a cold item has none, so it ranks
    last: the fallback a feed without content vectors has) and a random order.
    """
    cold_ids = np.flatnonzero(cold)
    encoder = config.content.encoder(config.seed).fit(
        [texts.full[i] for i in np.flatnonzero(~cold)]
    )
    with_ugc = encoder.transform(texts.full)
    catalogue_only = with_ugc.copy()
    catalogue_only[cold_ids] = encoder.transform([texts.catalogue_only[i] for i in cold_ids])

    buyers = None if purchases is None else sp.csr_matrix(purchases.multiply(hidden > 0))
    pair_sets = {"buyers": buyers, "all_users": hidden}
    train_users = np.diff(train.tocsc().indptr)
    mapped = np.flatnonzero(cold | (train_users < config.content.warm_min_users))
    popularity = np.asarray(train.sum(axis=0)).ravel()
    report: dict[str, object] = {"cold_items": int(len(cold_ids)), "chosen": "newest"}
    for name, content in (("catalogue_only", catalogue_only), ("with_ugc", with_ugc)):
        vectors, _ = place_cold_items(
            model.item_factors_,
            content,
            mapped,
            alpha=config.content.map_alpha,
            item_weight=np.log1p(train_users),
        )
        report[name] = {
            who: evaluate_cold_items(
                model.user_factors_,
                vectors,
                pairs,
                item_category,
                popularity,
                seen=train,
                seed=config.seed,
                max_pairs=config.content.cold_max_pairs,
            )
            for who, pairs in pair_sets.items()
            if pairs is not None and pairs.nnz
        }
    return report


def map_cold_items(
    cf: Recommender,
    content: ContentFit,
    user_items: sp.csr_matrix,
    config: TrainConfig,
) -> tuple[ContentPlacer | None, np.ndarray, np.ndarray, dict[str, object]]:
    """Fit the content -> factor map on warm items (weighted by log1p of their users) and give
    items with fewer than `warm_min_users` users content-mapped vectors instead of CF factors.

    Without a content map (no usable text, or no warm item to learn it from) every item keeps
    its CF factors. Returns (placer or None, item vectors, content-mapped mask, the manifest's
    ``metrics.content``).
    """
    item_users = np.diff(user_items.tocsc().indptr)
    cold = item_users < config.content.warm_min_users
    factors = np.asarray(cf.item_factors_, dtype=np.float32)
    if content.encoder is not None and not (~cold & (item_users > 0)).any():
        content = _skip_content(
            f"no item has the {config.content.warm_min_users} users "
            "(content.warm_min_users) the map learns from", content.text_coverage
        )
    coverage = None if content.text_coverage is None else round(content.text_coverage, 4)
    if content.encoder is None or content.vectors is None:
        metrics: dict[str, object] = {"map": "skipped", "reason": content.skipped,
                                      "text_coverage": coverage, "mapped_items": 0}
        return None, factors.copy(), np.zeros(len(cold), dtype=bool), metrics
    vectors, fmap = place_cold_items(
        factors,
        content.vectors,
        np.flatnonzero(cold),
        alpha=config.content.map_alpha,
        item_weight=np.log1p(item_users),
    )
    logger.info("content-mapped vectors for %d of %d items", int(cold.sum()), len(cold))
    metrics = {
        "map": "fitted",
        "text_coverage": coverage,
        "n_components": content.encoder.n_components_,
        "train_r2": round(fmap.train_r2_, 4),
        "mapped_items": int(cold.sum()),
    }
    return ContentPlacer(content.encoder, fmap), vectors, cold, metrics
