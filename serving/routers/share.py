"""Share targets: which friends to share a group buy with (feed services)."""

from __future__ import annotations

import time

from fastapi import APIRouter

from recsys.events.impressions import EntityKind, Shown
from recsys.runtime import ShareTargets
from serving.deps import SERVICE_ROUTES, ModelDep, StateDep
from serving.live import LiveDep, RequestIdDep
from serving.schemas.errors import NOT_FOUND, V1_ERRORS
from serving.schemas.share import ShareTargetsIn, ShareTargetsOut

router = APIRouter(prefix="/v1", tags=["share"], dependencies=SERVICE_ROUTES, responses=V1_ERRORS)

SHARE_TARGETS = "/share-targets"
US_PER_DAY = 86_400 * 1_000_000


@router.post(SHARE_TARGETS, response_model=ShareTargetsOut, responses=NOT_FOUND)
async def share_targets(
    body: ShareTargetsIn, model: ModelDep, state: StateDep, live: LiveDep,
    request_id: RequestIdDep,
) -> ShareTargetsOut:  # fmt: skip
    """Friends to share a group buy with, best first, with reasons; the chance it completes;
    circles to post in for a user with few contacts. Opted-out, blocking or blocked people,
    non-friends and friends who bought the item recently never appear; a friend suggested to
    the user `RECSYS_SHARE_MAX_SUGGESTIONS` times within `RECSYS_SHARE_CAP_WINDOW_DAYS` (the
    impression log) is not suggested again. Every answer is logged (entity kind friend)."""
    now_us = time.time_ns() // 1000
    window = int(model.policy.share_cap_window_days * US_PER_DAY)
    deadline = body.deadline_ts

    def answer() -> ShareTargets:
        suggested = live.suggestions.counts(body.user_id, now_us - window)
        found = model.share_targets(
            body.user_id, body.item_id, group_id=body.group_id, target_size=body.target_size,
            deadline_us=None if deadline is None else int(deadline.timestamp() * 1_000_000),
            limit=body.limit, suggested=suggested, events=live.store, now_us=now_us,
        )  # fmt: skip
        live.suggestions.record(Shown(
            request_id=request_id, route=router.prefix + SHARE_TARGETS, viewer_id=body.user_id,
            model_version=found.model_version, kind=EntityKind.FRIEND,
            entity_ids=[t.user_id for t in found.targets],
            reasons=[t.reasons for t in found.targets], ts_us=now_us,
        ))  # fmt: skip
        return found

    return ShareTargetsOut.model_validate(await state.compute.run(answer))
