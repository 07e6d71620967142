"""The content map part: text -> item vectors for items the scorer never saw (optional: items
without usable text give no map)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from recsys.bundle import layout
from recsys.bundle.layout import BundleLayout
from recsys.content.placer import ContentPlacer


@dataclass(frozen=True)
class ContentMap:
    """The fitted encoder and content -> factor map (what `recsys refresh` places items with)."""

    placer: ContentPlacer

    def save(self, root: str | Path) -> None:
        self.placer.save(BundleLayout(root).path(layout.CONTENT))

    @classmethod
    def load(cls, root: str | Path, *, mmap: bool = True) -> ContentMap:  # noqa: ARG003
        return cls(ContentPlacer.load(BundleLayout(root).path(layout.CONTENT)))

    @classmethod
    def load_optional(cls, root: str | Path) -> ContentMap | None:
        """The content map, or None for a bundle trained on items without usable text (then
        every item kept its CF factors, and training recorded why in `metrics.content`)."""
        if not BundleLayout(root).path(layout.CONTENT).is_dir():
            return None
        return cls.load(root)
