"""The user history part: what each user did, for scoring and for the exclusion rule."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from recsys.bundle import layout
from recsys.bundle.layout import BundleLayout, load_csr, save_array, save_csr
from recsys.errors import BundleError


@dataclass(frozen=True)
class UserHistory:
    """Two (n_users, n_items) CSR matrices over the bundle's users and items.

    Attributes
    ----------
    interacted : float32 training confidence: the scorer's input rows and the "interacted"
        items of the exclusion rule; a user with an empty row has no item history.
    purchased : 0/1 cells of items a user bought or group-bought (always excluded).
    """

    interacted: sp.csr_matrix
    purchased: sp.csr_matrix

    def __post_init__(self) -> None:
        if self.interacted.shape != self.purchased.shape:
            raise BundleError(
                f"history matrices differ in shape: interacted {self.interacted.shape}, "
                f"purchased {self.purchased.shape}"
            )

    @property
    def shape(self) -> tuple[int, int]:
        return self.interacted.shape

    def has_history(self, user: int) -> bool:
        """Whether the user interacted with any item (the scorer has something to go on)."""
        return bool(self.interacted.indptr[user + 1] > self.interacted.indptr[user])

    def save(self, root: str | Path) -> None:
        paths = BundleLayout(root)
        save_csr(paths.path(layout.HISTORY_INTERACTED), self.interacted)
        save_csr(paths.path(layout.HISTORY_PURCHASED), self.purchased)

    @staticmethod
    def save_widened(root: str | Path, n_users: int, n_items: int) -> None:
        """Give both saved matrices `n_items` columns by rewriting their shape files only:
        items a refresh appends have no history yet, so no other array changes."""
        paths = BundleLayout(root)
        shape = np.asarray([n_users, n_items], dtype=np.int64)
        for folder in (layout.HISTORY_INTERACTED, layout.HISTORY_PURCHASED):
            save_array(paths.path(paths.csr_file(folder, "shape")), shape)

    @classmethod
    def load(cls, root: str | Path, *, mmap: bool = True) -> UserHistory:
        paths = BundleLayout(root)
        return cls(
            interacted=load_csr(paths.path(layout.HISTORY_INTERACTED), mmap=mmap),
            purchased=load_csr(paths.path(layout.HISTORY_PURCHASED), mmap=mmap),
        )
