"""Candidate sources -> learned ranker, as one `Recommender`: the project's recommender.

`fit` carves a label fold from the training matrix (`recsys.feeds.folds`), tunes the
sources' key settings on it within a time budget (`recsys.feeds.tuning`), fits the sources
on the rest, learns a LightGBM lambdarank over their merged candidates' features
(`recsys.feeds.features`, `recsys.feeds.ranker`) and finally refits the sources on all the
training data, which is what serves. On label users the ranker never saw, it then picks what
serves: the ranker, the ranker blended with its best source (z-scores over the user's
candidates), or that source alone (small data, where a ranker learns noise). `report_`
records both fits.

Scores: candidates get the chosen blend's score; every other unseen item ranks after them by
popularity, so a list longer than the candidates still holds every eligible item once.
Saved as JSON, `.npy` arrays (sources as their own recommenders' saves) and LightGBM's text
model; never a pickle.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Self

import numpy as np
import scipy.sparse as sp

from recsys.errors import BundleError
from recsys.feeds.config import RankedConfig, SourceConfig
from recsys.feeds.features import CandidateBatch, FeatureBuilder, _rank_of, _z_per_row
from recsys.feeds.folds import label_fold, resolve_label_split, user_sample
from recsys.feeds.ranker import LambdaRanker
from recsys.feeds.side import SideData, restrict_times, restrict_users
from recsys.feeds.sources import (
    ModelSource,
    Source,
    build_sources,
    make_source,
    merge_candidates,
)
from recsys.feeds.tuning import ndcg_sum, tune_sources
from recsys.recommenders.base import Recommender, top_k

logger = logging.getLogger(__name__)

#: Dense score cells held per batch over all sources (bounds memory on big catalogues).
_BATCH_CELLS = 1 << 24
_RANKER_FILE = "ranker.txt"
#: Weights of a source's z-score added to the ranker's, tried on held-out label users.
BLEND_WEIGHTS: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0)
#: Weight of the sources' fused order in the final score: breaks the ranker's ties only.
_TIE_BREAK = 1e-6


def _as_config(config: RankedConfig | Mapping[str, Any] | None) -> RankedConfig:
    if config is None:
        return RankedConfig()
    if isinstance(config, RankedConfig):
        return config
    return RankedConfig.model_validate(dict(config))


class RankedRecommender(Recommender):
    """A configured chain of candidate sources re-ranked by a learned ranker.

    Parameters
    ----------
    config : the recipe (`RankedConfig`, or its JSON dict as saved).

    Attributes
    ----------
    sources_ : fitted sources of the chain that could run on the data (refit on all of it).
    features_ : the fitted `FeatureBuilder`.
    ranker_ : the fitted `LambdaRanker`.
    report_ : dict, what fit did: label fold, skipped sources, tuning, ranker, seconds.
    """

    name = "ranked"

    def __init__(self, *, config: RankedConfig | Mapping[str, Any] | None = None) -> None:
        self.config = _as_config(config)

    # -- fit ---------------------------------------------------------------------------------

    def fit(self, user_items: sp.csr_matrix, *, side: SideData | None = None,
            show_progress: bool = True, prefit: Sequence[Recommender] = ()) -> Self:
        """Learn sources and ranker from a (n_users, n_items) confidence matrix and optional
        side data (`SideData`; None for data with interactions only); returns self.

        `prefit`: models already fitted on all of `user_items` (training's shipped ALS): a
        source whose refit would make the same model takes it instead (`report_["adopted"]`).
        """
        cfg = self.config
        x = sp.csr_matrix(user_items, dtype=np.float32)
        x.sum_duplicates()
        n_users, n_items = x.shape
        side = (side or SideData()).checked(n_users, n_items)
        started = time.perf_counter()
        report: dict[str, Any] = {}
        configs = self._first_fit(x, side, report)
        # The first fit's sources go before the final ones come: at 10M users they are GBs.
        self.sources_ = self.features_ = None
        t0 = time.perf_counter()
        self.sources_, report["adopted"] = _refit(configs, x, side, cfg.seed, prefit)
        self.features_ = FeatureBuilder(recent_items=cfg.recent_items).fit(x, side, self.sources_)
        report["refit_s"] = round(time.perf_counter() - t0, 1)
        self.fallback_ = self.features_.item_pop_.copy()
        self.n_items_ = int(n_items)
        report["seconds"] = round(time.perf_counter() - started, 1)
        report["source_params"] = {c.name: dict(c.params) for c in configs}
        self.report_ = report
        logger.info("ranked fit in %.1f s: sources %s, ranker %s", report["seconds"],
                    [s.name for s in self.sources_], self.ranker_.report_.best)
        return self

    def _first_fit(self, x: sp.csr_matrix, side: SideData,
                   report: dict[str, Any]) -> list[SourceConfig]:
        """Label fold, tuning, sources on the fold's fit part, the ranker and what serves, on
        all users or a sample of `max_fit_users`; fills `report` and returns the sources'
        settings for the final fit."""
        cfg = self.config
        rows = user_sample(x, cfg.max_fit_users, cfg.seed + 2)
        if rows is not None:
            logger.info("first fit on a sample of %d of %d users", len(rows), x.shape[0])
            x, side = x[rows], restrict_users(side, rows)
        method = resolve_label_split(cfg.label_split, side)
        fit_x, label = label_fold(x, side, method, fraction=cfg.label_fraction, seed=cfg.seed)
        fit_side = restrict_times(side, fit_x)
        sources, skipped = build_sources(cfg.sources, side, x.shape[1], cfg.ease_max_items)
        del x, side
        report.update(label_split=method, fit_pairs=int(fit_x.nnz), label_pairs=int(label.nnz),
                      fit_users=None if rows is None else len(rows), skipped_sources=skipped)
        t0 = time.perf_counter()
        configs, tuning, fitted = tune_sources(
            sources, fit_x, label, fit_side, trials=cfg.tune_trials, budget_s=cfg.tune_budget_s,
            max_users=cfg.max_tune_users, seed=cfg.seed)
        report["tuning"] = {n: vars(t) for n, t in tuning.items()}
        report["tune_s"] = round(time.perf_counter() - t0, 1)
        t0 = time.perf_counter()
        sources = [fitted.pop(c.name, None) or make_source(c).fit(fit_x, fit_side, seed=cfg.seed)
                   for c in configs]
        features = FeatureBuilder(recent_items=cfg.recent_items).fit(fit_x, fit_side, sources)
        self.sources_, self.features_ = sources, features
        rows_x, labels, groups, held = self._training_rows(fit_x, label)
        report["first_fit_s"] = round(time.perf_counter() - t0, 1)
        self.ranker_ = LambdaRanker(cfg.ranker, seed=cfg.seed).fit(
            rows_x, labels, groups, features.feature_names_)
        report["ranker"] = vars(self.ranker_.report_)
        report["first_fit"] = self._choose_blend(fit_x, label, held)
        report["serves"] = self.blend_
        return configs

    def _training_rows(self, fit_x: sp.csr_matrix, label: sp.csr_matrix
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Feature rows of label users whose candidates hold a label item, capped at
        `ranker.max_rows` rows and `ranker.max_scored_cells` scored cells by a seeded user
        sample. Also returns a seeded sample of label users kept out of the rows, for the first
        fit's NDCG."""
        cfg = self.config
        rng = np.random.default_rng(cfg.seed + 1)
        users = np.flatnonzero(np.diff(label.indptr) > 0)
        rng.shuffle(users)
        cells = len(self.features_.item_pop_) * len(self.sources_)  # per user scored
        n_held = min(len(users) // 10, 5000, max(1, cfg.ranker.max_scored_cells // 4 // cells))
        held, users = np.sort(users[:n_held]), users[n_held:]
        width = sum(s.config.n for s in self.sources_)
        n_rows = min(cfg.ranker.max_rows // max(width // 2, 1),
                     cfg.ranker.max_scored_cells // cells)
        users = np.sort(users[: max(1, n_rows)])
        xs, ys, groups = [], [], []
        for lo in range(0, len(users), self._batch_size()):
            u = users[lo: lo + self._batch_size()]
            batch = self._candidates(u, fit_x[u])
            feats = self.features_.transform(batch, fit_x[u])
            y = np.take_along_axis(label[u].toarray() > 0,
                                   np.where(batch.candidates >= 0, batch.candidates, 0), axis=1)
            y &= batch.candidates >= 0
            useful = y.any(axis=1)
            valid = (batch.candidates >= 0) & useful[:, None]
            xs.append(feats[valid.ravel()])
            ys.append(y[valid])
            groups.append(valid.sum(axis=1)[useful])
        x = np.concatenate(xs) if xs else np.empty((0, len(self.features_.feature_names_)))
        y = np.concatenate(ys).astype(np.float32) if ys else np.empty(0, np.float32)
        return x, y, np.concatenate(groups) if groups else np.empty(0, np.int64), held

    def _choose_blend(self, fit_x: sp.csr_matrix, label: sp.csr_matrix,
                      held: np.ndarray) -> dict[str, Any]:
        """Pick what serves by NDCG@10 on label users the ranker never saw: the ranker, the
        ranker's z-score plus `w` times one proposing source's (w in `BLEND_WEIGHTS`), or one
        source alone (small data, where a ranker learns noise). Sets `blend_`; returns every
        option's NDCG."""
        self.blend_ = {"source": None, "weight": 0.0, "ranker": True}
        if not len(held):
            return {}
        names = [s.name for s in self.sources_ if s.config.n > 0]
        options = [("ranker", None, 0.0)] + [
            (f"ranker+{w:g}*{n}", n, w) for n in names for w in BLEND_WEIGHTS] + [
            (n, n, None) for n in names]
        sums = dict.fromkeys((o[0] for o in options), 0.0)
        for lo in range(0, len(held), self._batch_size()):
            u = held[lo: lo + self._batch_size()]
            batch = self._candidates(u, fit_x[u])
            cand, valid = batch.candidates, batch.candidates >= 0
            ranker = self._ranker_scores(batch, fit_x[u])
            for key, name, weight in options:
                blend = {"source": name, "weight": weight or 0.0, "ranker": weight is not None
                         or name is None}
                scores = _blend_scores(blend, batch, ranker)
                top = _top_of(cand, np.where(valid, scores, -np.inf), 10)
                sums[key] += ndcg_sum(top, label[u], 10)
        ndcg = {k: round(v / len(held), 5) for k, v in sums.items()}
        best = max(options, key=lambda o: ndcg[o[0]])  # first on ties: the plain ranker
        self.blend_ = {"source": best[1], "weight": best[2] or 0.0,
                       "ranker": best[2] is not None or best[1] is None}
        if not self.blend_["ranker"]:
            logger.warning("the ranker (held-out ndcg@10 %.4f) lost to source %s (%.4f): "
                           "serving that source's order", ndcg["ranker"], best[0], ndcg[best[0]])
        return {"ndcg@10": ndcg, "users": int(len(held)), "chosen": best[0]}

    # -- scoring -----------------------------------------------------------------------------

    def _batch_size(self) -> int:
        n_items = len(self.features_.item_pop_)
        return max(1, _BATCH_CELLS // max(n_items * len(self.sources_), 1))

    def _candidates(self, user_ids: np.ndarray, user_items: sp.csr_matrix) -> CandidateBatch:
        scores, lists = {}, {}
        seen = sp.csr_matrix(user_items).tocoo()
        for source in self.sources_:
            dense = source.scores(user_ids, user_items)
            dense[seen.row, seen.col] = -np.inf
            scores[source.name] = dense
            if source.config.n > 0:
                lists[source.name] = top_k(dense, source.config.n)[0]
        cand = merge_candidates(list(lists.values()))
        return CandidateBatch(user_ids=user_ids, candidates=cand, scores=scores, lists=lists)

    def _ranker_scores(self, batch: CandidateBatch, user_items: sp.csr_matrix) -> np.ndarray:
        """(n, C) raw ranker scores, -inf at padding."""
        cand = batch.candidates
        valid = (cand >= 0).ravel()
        scores = np.full(cand.size, -np.inf)
        if valid.any():
            feats = self.features_.transform(batch, user_items)
            scores[valid] = self.ranker_.predict(feats[valid])
        return scores.reshape(cand.shape)

    def _ranked(self, user_ids: np.ndarray, user_items: sp.csr_matrix
                ) -> tuple[np.ndarray, np.ndarray]:
        """(candidates (n, C), final scores (n, C) with -inf at padding)."""
        batch = self._candidates(user_ids, user_items)
        ranker = (self._ranker_scores(batch, user_items) if self.blend_["ranker"] else None)
        scores = _blend_scores(self.blend_, batch, ranker)
        scores = np.where(batch.candidates >= 0, scores, -np.inf)
        # Ties of the ranker (few trees on small data) go to the sources' fused order.
        return batch.candidates, scores + _TIE_BREAK * fused_rank(batch)

    def recommend_lists(self, user_ids: np.ndarray, user_items: sp.csr_matrix,
                        k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k of the candidates only, best first (-1 padded): the ranker's own order."""
        cand, scores = self._ranked(np.asarray(user_ids, np.int64), sp.csr_matrix(user_items))
        order = np.lexsort((cand, -scores), axis=1)[:, :k]
        ids = np.take_along_axis(cand, order, axis=1)
        vals = np.take_along_axis(scores, order, axis=1).astype(np.float32)
        ids[~np.isfinite(vals)] = -1
        return ids, vals

    def _score(self, user_ids: np.ndarray, user_items: sp.csr_matrix) -> np.ndarray:
        """(n, n_items): ranker scores on candidates; below them, popularity for the rest."""
        user_ids = np.asarray(user_ids, np.int64)
        out = np.empty((len(user_ids), self.n_items_), np.float32)
        step = self._batch_size()
        pop = self.fallback_ / max(float(self.fallback_.max()), 1.0) * 0.5
        for lo in range(0, len(user_ids), step):
            rows = slice(lo, lo + step)
            cand, scores = self._ranked(user_ids[rows], user_items[rows])
            finite = np.where(np.isfinite(scores), scores, np.inf)
            floor = np.minimum(finite.min(axis=1, initial=np.inf), 0.0)
            floor = np.where(np.isfinite(floor), floor, 0.0) - 1.0
            block = floor[:, None] + pop[None, :]
            r, c = np.nonzero(cand >= 0)
            block[r, cand[r, c]] = scores[r, c]
            out[rows] = block
        return out

    def _item_similarity(self, item_ids: np.ndarray) -> np.ndarray | None:
        """The first model source's item similarity (EASE or item-kNN in the default chain):
        item-to-item questions need no user, so no ranker."""
        for source in self.sources_:
            model = getattr(source, "model_", None)
            sims = None if model is None else model._item_similarity(item_ids)
            if sims is not None:
                return sims
        return None

    # -- persistence -------------------------------------------------------------------------

    def get_params(self) -> dict[str, Any]:
        return {"config": self.config.model_dump(mode="json")}

    def save(self, directory: str | Path) -> None:
        """params.json (recipe, fitted chain, feature names, report), sources/<name>/,
        features/ (.npy), fallback.npy and ranker.txt (LightGBM's text model)."""
        self._check_fitted()
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        meta = {
            "model": self.name, "params": self.get_params(), "n_items": int(self.n_items_),
            "sources": [s.config.model_dump(mode="json") for s in self.sources_],
            "features": self.features_.feature_names_, "blend": self.blend_,
            "report": self.report_,
        }
        (directory / "params.json").write_text(
            json.dumps(meta, indent=2, sort_keys=True, default=_json_default))
        for source in self.sources_:
            source.save(directory / "sources" / source.name)
        self.features_.save(directory / "features")
        np.save(directory / "fallback.npy", self.fallback_, allow_pickle=False)
        (directory / _RANKER_FILE).write_text(self.ranker_.to_text(), encoding="utf-8")

    @classmethod
    def load(cls, directory: str | Path, *, mmap: bool = False) -> Self:
        """Rebuild a fitted model saved by `save`; `mmap` memory-maps the model sources' arrays
        (factors, similarities: the bulk), the rest loads into memory."""
        directory = Path(directory)
        try:
            meta = json.loads((directory / "params.json").read_text())
            text = (directory / _RANKER_FILE).read_text(encoding="utf-8")
        except FileNotFoundError as exc:
            raise BundleError(f"{directory}: {Path(exc.filename).name} missing; not a saved "
                              f"{cls.__name__}") from None
        if meta.get("model") != cls.name:
            raise BundleError(f"{directory}: holds model {meta.get('model')!r}, not {cls.name!r}")
        model = cls(**meta["params"])
        sources: list[Source] = []
        for raw in meta["sources"]:
            source = make_source(SourceConfig.model_validate(raw))
            source.load_state(directory / "sources" / source.name, mmap=mmap)
            sources.append(source)
        model.sources_ = sources
        model.features_ = FeatureBuilder(recent_items=model.config.recent_items).load(
            directory / "features", sources, meta["features"])
        model.ranker_ = LambdaRanker.from_text(text, model.config.ranker, seed=model.config.seed)
        model.fallback_ = np.load(directory / "fallback.npy")
        model.report_ = meta["report"]
        model.blend_ = meta["blend"]
        model.n_items_ = int(meta["n_items"])
        return model


def _refit(configs: list[SourceConfig], x: sp.csr_matrix, side: SideData, seed: int,
           prefit: Sequence[Recommender]) -> tuple[list[Source], list[str]]:
    """The sources fitted on all of `x`, each taking a `prefit` model that is the one it would
    fit; also the names of those that took one."""
    sources, adopted = [], []
    for config in configs:
        source = make_source(config)
        if isinstance(source, ModelSource) and any(source.adopt(m, seed=seed) for m in prefit):
            adopted.append(config.name)
        else:
            source.fit(x, side, seed=seed)
        sources.append(source)
    return sources, adopted


def _blend_scores(blend: dict[str, Any], batch: CandidateBatch,
                  ranker: np.ndarray | None) -> np.ndarray:
    """(n, C) scores of a blend: the ranker's z-score over the user's candidates plus weight
    times the source's, or the source's own scores when the ranker is off."""
    valid = batch.candidates >= 0
    source = None
    if blend["source"] is not None:
        dense = batch.scores[blend["source"]]
        source = np.take_along_axis(dense, np.where(valid, batch.candidates, 0), axis=1)
    if not blend["ranker"]:
        return source.astype(np.float64)
    out = _z_per_row(ranker, valid).astype(np.float64)
    if source is not None and blend["weight"]:
        out += blend["weight"] * _z_per_row(source, valid)
    return out


def _top_of(cand: np.ndarray, scores: np.ndarray, k: int) -> np.ndarray:
    """(n, k) candidates by descending score (ties: lower id), -1 where the score is -inf."""
    order = np.lexsort((cand, -scores), axis=1)[:, :k]
    ids = np.take_along_axis(cand, order, axis=1)
    ids[~np.isfinite(np.take_along_axis(scores, order, axis=1))] = -1
    return ids


def fused_rank(batch: CandidateBatch) -> np.ndarray:
    """(n, C) reciprocal-rank fusion of the proposing sources' lists: sum of 1 / (1 + rank)."""
    cand = batch.candidates
    safe = np.where(cand >= 0, cand, 0)
    n_items = max(int(batch.candidates.max(initial=0)) + 1,
                  max((int(t.max(initial=0)) + 1 for t in batch.lists.values()), default=1))
    out = np.zeros(cand.shape)
    for top in batch.lists.values():
        rank = _rank_of(top, safe, n_items, top.shape[1] + 1_000_000)
        out += 1.0 / (1.0 + rank)
    return out


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")
