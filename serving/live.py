"""What a worker holds for live rows: the event store, one group commit per table, a judge per
served model, the impression log (docs/events.md) and the share-target suggestion counts read
from it (`serving.share_cap`). Built in the app's lifespan."""

from __future__ import annotations

import asyncio
import secrets
import threading
from collections.abc import Mapping, Sequence
from typing import Annotated

from fastapi import Depends, Request, Response

from recsys.events.batcher import GroupCommit
from recsys.events.impressions import ImpressionLog
from recsys.events.judge import JUDGED, Judge, RowResult, Scalar
from recsys.events.references import References
from recsys.events.store import SQLiteEventStore
from recsys.runtime import RuntimeModel
from serving.settings import Settings
from serving.share_cap import SuggestionCounts

REQUEST_ID_HEADER = "X-Request-ID"
#: A request id a caller may pass: short, printable, no separators that break a log line.
_MAX_REQUEST_ID = 128


class LiveState:
    """The store, judges and impression log of one worker process."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = SQLiteEventStore(settings.event_store_path)
        self.commits = {table: GroupCommit(table) for table in JUDGED}
        self.impressions = ImpressionLog(
            settings.impression_log_path,
            max_rows=settings.impressions_max_rows,
            retention_days=settings.impressions_retention_days,
            queue_size=settings.impressions_queue,
        )
        self.suggestions = SuggestionCounts(self.impressions)
        self._judge: Judge | None = None
        self._judged_model: RuntimeModel | None = None
        self._lock = threading.Lock()

    def judge_for(self, model: RuntimeModel) -> Judge:
        """The judge over `model`'s bundle (a new one after a hot swap)."""
        with self._lock:
            if self._judged_model is not model or self._judge is None:
                self._judge = Judge(References(model.parts, self.store))
                self._judged_model = model
            return self._judge

    async def judge(
        self, table: str, model: RuntimeModel, rows: Sequence[Mapping[str, Scalar]]
    ) -> list[RowResult]:
        """Judge and store one posted batch; returns once what was accepted is durable."""
        future = self.commits[table].submit(self.judge_for(model), rows)
        return await asyncio.wrap_future(future)

    def close(self) -> None:
        for commit in self.commits.values():
            commit.close()
        self.impressions.close()
        self.store.close()


def get_live(request: Request) -> LiveState:
    return request.app.state.live


LiveDep = Annotated[LiveState, Depends(get_live)]


def request_id(request: Request, response: Response) -> str:
    """The caller's X-Request-ID when it is a sane token, else a new one; echoed back."""
    given = request.headers.get(REQUEST_ID_HEADER, "")
    ok = 0 < len(given) <= _MAX_REQUEST_ID and given.isprintable() and " " not in given
    rid = given if ok else secrets.token_hex(16)
    response.headers[REQUEST_ID_HEADER] = rid
    return rid


RequestIdDep = Annotated[str, Depends(request_id)]
