"""The one exclusion rule: which items a user is never shown, for serving and evaluation alike.

Always excluded: items the user bought or group-bought, and delisted items. Excluded by a
switch (`exclude_interacted`, default True): every other item the user interacted with (viewed,
liked, shared...). The default is the evaluation protocol's, where the training items of a user
are never recommended (`recsys.evaluation.evaluate`), so the order a user is served is the order
that was evaluated. Training's holdout check, the evaluation harness and the runtime all rank
through `ExclusionRule.recommend`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from recsys.recommenders.base import Recommender

#: Exclude interacted items by default: what the evaluation protocol measures.
EXCLUDE_INTERACTED = True


@dataclass(frozen=True)
class ExclusionRule:
    """Which items never reach a user's answer (see the module docstring)."""

    exclude_interacted: bool = EXCLUDE_INTERACTED

    def recommend(
        self,
        model: Recommender,
        user_ids: np.ndarray,
        interacted: sp.csr_matrix,
        k: int,
        *,
        purchased: sp.csr_matrix | None = None,
        unlisted: np.ndarray | None = None,
        exclude_items: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """`model.recommend` under this rule.

        Parameters
        ----------
        user_ids : (n,) dense user indices.
        interacted : (n, n_items) CSR rows of the users' interactions (the model's input).
        purchased : (n, n_items) CSR rows of what they bought or group-bought; None when the
            caller has no purchase record (evaluation: purchases are inside `interacted`).
        unlisted : item indices that are delisted.
        exclude_items : further item indices left out for everyone (e.g. an experiment's
            hidden items).
        """
        hidden = [a for a in (unlisted, exclude_items) if a is not None and len(a)]
        return model.recommend(
            user_ids,
            interacted,
            k,
            filter_already_liked_items=self.exclude_interacted,
            exclude_items=np.concatenate(hidden).astype(np.int64) if hidden else None,
            exclude_cells=purchased,
        )

    def keep(
        self,
        candidates: np.ndarray,
        *,
        listed: np.ndarray,
        interacted: np.ndarray,
        purchased: np.ndarray,
    ) -> np.ndarray:
        """(len(candidates),) bool: which candidate items one user may be shown.

        Parameters
        ----------
        candidates : item indices (e.g. a circle's trending list).
        listed : (n_items,) bool catalogue flag.
        interacted, purchased : that user's item indices of each kind.
        """
        candidates = np.asarray(candidates, dtype=np.int64)
        keep = np.asarray(listed, dtype=bool)[candidates]
        keep &= ~np.isin(candidates, purchased)
        if self.exclude_interacted:
            keep &= ~np.isin(candidates, interacted)
        return keep
