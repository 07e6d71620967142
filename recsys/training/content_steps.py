"""The content steps of training: item documents, the text encoder, the content -> factor map
that places cold items in CF space, and the cold-start measurement of that map.

The map itself is fitted by the shipped scorer (`ShippedRecommender.fit` with the content
vectors): the vectors it scores with are the ones the bundle keeps. `content_map` takes the
fitted map out of it for the bundle's content part (new items on refresh).

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
from recsys.item_stats import users_per_item
from recsys.recipe import TrainConfig
from recsys.recommenders.shipped import ShippedRecommender

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
    model: ShippedRecommender,
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
    train_users = users_per_item(train)
    mapped = np.flatnonzero(cold | (train_users < config.content.warm_min_users))
    popularity = np.asarray(train.sum(axis=0)).ravel()
    report: dict[str, object] = {"cold_items": int(len(cold_ids)), "chosen": "newest"}
    for name, content in (("catalogue_only", catalogue_only), ("with_ugc", with_ugc)):
        # The scorer's vectors are its CF factors on every warm (not `mapped`) item, the rows
        # this map learns from; the mapped rows are replaced.
        vectors, _ = place_cold_items(
            model.item_vectors_,
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


def content_map(
    content: ContentFit, scorer: ShippedRecommender
) -> tuple[ContentPlacer | None, dict[str, object]]:
    """The content part of the bundle (encoder + the map the scorer fitted), and the manifest's
    ``metrics.content``.

    Without a content map (no usable text, or no item with the `warm_min_users` users the map
    learns from) every item keeps its CF factors and the part is None.
    """
    if content.encoder is not None and scorer.factor_map_ is None:
        content = _skip_content(
            f"no item has the {scorer.config.content.warm_min_users} users "
            "(content.warm_min_users) the map learns from", content.text_coverage
        )
    coverage = None if content.text_coverage is None else round(content.text_coverage, 4)
    if content.encoder is None or scorer.factor_map_ is None:
        return None, {"map": "skipped", "reason": content.skipped, "text_coverage": coverage,
                      "mapped_items": 0}
    fmap = scorer.factor_map_
    logger.info("content-mapped vectors for %d of %d items", len(scorer.cold_items_),
                scorer.n_items_)
    metrics: dict[str, object] = {
        "map": "fitted",
        "text_coverage": coverage,
        "n_components": content.encoder.n_components_,
        "train_r2": round(fmap.train_r2_, 4),
        "mapped_items": int(len(scorer.cold_items_)),
    }
    return ContentPlacer(content.encoder, fmap), metrics
