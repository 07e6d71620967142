"""The bare endpoint serving_load.py compares every route with: FastAPI returning a fixed 20-item
list, run by the same uvicorn as `recsys serve`, so the ratio is what our code costs on top of
the stack."""

from __future__ import annotations

from fastapi import FastAPI
from pydantic import BaseModel

ITEMS = [f"item-{i}" for i in range(20)]


class BareOut(BaseModel):
    user_id: str
    items: list[str]


app = FastAPI()


@app.get("/bare/{user_id}", response_model=BareOut)
async def bare(user_id: str) -> BareOut:
    return BareOut(user_id=user_id, items=ITEMS)
