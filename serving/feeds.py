"""What a worker holds for the feeds: one Feed and one CircleFeed per served model (rebuilt after
a hot swap), the cursor codec, and reads of the impression counts (the frequency cap).

The cursor secret is derived from the bundle signing key (`recsys.feeds.pages.derive_secret`),
which every worker of a deployment already shares, so a cursor made by one worker is read by
any other and no new secret has to be distributed.
"""

from __future__ import annotations

import threading
from typing import Annotated

from fastapi import Depends, Request

from recsys.bundle.signing import resolve_key
from recsys.events.impressions import EntityKind, shown_counts
from recsys.feeds.circle_feed import CircleFeed
from recsys.feeds.feed import Feed
from recsys.feeds.pages import CursorCodec, derive_secret
from recsys.runtime import RuntimeModel
from serving.settings import Settings


class FeedState:
    """Feeds over the current model, built on first use per model."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._codec: CursorCodec | None = None
        self._feeds: tuple[RuntimeModel, Feed, CircleFeed] | None = None

    def codec(self) -> CursorCodec:
        with self._lock:
            if self._codec is None:
                self._codec = CursorCodec(derive_secret(resolve_key().secret))
            return self._codec

    def _for(self, model: RuntimeModel) -> tuple[Feed, CircleFeed]:
        codec = self.codec()
        with self._lock:
            if self._feeds is None or self._feeds[0] is not model:
                self._feeds = (model, Feed(model, codec), CircleFeed(model, codec))
            return self._feeds[1], self._feeds[2]

    def feed(self, model: RuntimeModel) -> Feed:
        return self._for(model)[0]

    def circle_feed(self, model: RuntimeModel) -> CircleFeed:
        return self._for(model)[1]

    def shown(self, viewer_id: str, kind: EntityKind) -> dict[str, int]:
        """How often each entity was shown to the viewer (the impression log's counts)."""
        return shown_counts(self.settings.impression_log_path, viewer_id, kind)


def get_feeds(request: Request) -> FeedState:
    return request.app.state.feeds


FeedsDep = Annotated[FeedState, Depends(get_feeds)]
