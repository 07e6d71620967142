"""Live rows posted by feed services, and the per-row answer.

Fields carry the data contract's names (docs/data-contract.md). Values are JSON scalars and
every field is optional here: a missing or ill-typed value is judged by the ingest rules, row by
row, and comes back as `rejected` with the field and reason, never as a 422 for the batch.
A 422 is only for a body that is not such a batch: not JSON, not an object with a list, an
unknown field, a list or object where a value belongs, or more rows than the server takes.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr

#: One cell: text, a number (epoch seconds for a time), a boolean or null.
Cell = Annotated[
    StrictStr | StrictInt | StrictFloat | StrictBool | None,
    Field(description="Text, number, boolean or null; parsed as ingest parses a CSV cell."),
]
TS = Annotated[
    StrictStr | StrictInt | StrictFloat | None,
    Field(description="ISO-8601 (2025-01-02T12:00:00Z) or epoch seconds.",
          examples=["2025-01-02T12:00:00Z"]),
]


class _Row(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EventIn(_Row):
    """A user action; a missing `event_id` is derived from the event as ingest derives it."""

    event_id: Cell = None
    user_id: Cell = None
    item_id: Cell = None
    post_id: Cell = None
    type: Cell = Field(None, examples=["purchase"])
    group_id: Cell = None
    channel: Cell = None
    ts: TS = None


class GroupBuyIn(_Row):
    group_id: Cell = None
    item_id: Cell = None
    initiator_id: Cell = None
    created_ts: TS = None
    deadline_ts: TS = None
    target_size: Cell = None
    status: Cell = Field(None, examples=["open"])


class PostIn(_Row):
    post_id: Cell = None
    author_id: Cell = None
    circle_id: Cell = None
    item_id: Cell = None
    created_ts: TS = None
    text: Cell = None
    deleted: Cell = None


class EventsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    events: list[EventIn]


class GroupBuysIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    group_buys: list[GroupBuyIn]


class PostsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    posts: list[PostIn]


class RowResultOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    status: Literal["accepted", "duplicate", "rejected"]
    id: str | None = Field(None, description="The row's key (an event's derived id included).")
    field: str | None = Field(None, description="The field at fault (rejected rows).")
    reason: str | None = Field(None, description="The ingest rule's reason (rejected rows).")


class BatchOut(BaseModel):
    """One result per posted row, in the order posted; counts per status."""

    results: list[RowResultOut]
    accepted: int
    duplicate: int
    rejected: int
