"""Serving settings: one pydantic-settings class, env prefix RECSYS_, built in create_app().

The process options of `recsys serve` (host, port, workers) belong to the command; the command
exports what the app needs (models dir, workers) as RECSYS_ variables so that every worker
process builds the same Settings from its environment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from recsys.events.store import live_paths
from serving.auth import parse_role


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RECSYS_", frozen=True)

    #: Folder of the bundles; serving follows its PROMOTED pointer.
    models_dir: Path = Path("models")
    #: API key -> role ("service", "admin" or "merchant:<merchant_id>"), as a JSON object in
    #: RECSYS_API_KEYS. Empty means every /v1 call is refused (401): keys are never in code.
    api_keys: dict[str, str] = Field(default_factory=dict)
    #: Seconds between two looks at models_dir/PROMOTED by each worker's watcher.
    poll_interval: float = Field(1.0, gt=0.0, le=60.0)
    #: Threads per worker that run model calls (requests beyond that wait their turn).
    compute_threads: int = Field(4, ge=1, le=256)
    #: BLAS/OpenMP threads per model call. Requests already run concurrently, so more than one
    #: thread per call only makes calls and workers fight over the cores.
    blas_threads: int = Field(1, ge=1)
    #: What an id the bundle does not know gets: the global chain or a 404.
    unknown_user: Literal["global_chain", "not_found"] = "global_chain"
    #: The event store every worker shares (SQLite, WAL; docs/events.md); default
    #: events/events.sqlite3 beside the models folder.
    events_db: Path | None = None
    #: Rows one POST /v1/events (/v1/group-buys, /v1/posts) may carry; more is a 422.
    max_event_batch: int = Field(1_000, ge=1, le=100_000)
    #: Items of friends' live group buys leading an answer (0: off).
    live_groups: int = Field(3, ge=0, le=100)
    #: The impression log (its own SQLite file) and its retention: rows, days (0: no limit).
    impressions_db: Path | None = None  # default events/impressions.sqlite3 beside models
    impressions_max_rows: int = Field(10_000_000, ge=0)
    impressions_retention_days: float = Field(30.0, ge=0.0)
    #: Answers waiting to be logged; beyond it they are dropped and counted, never waited for.
    impressions_queue: int = Field(10_000, ge=1)
    #: POST /v1/share-targets: the same friend is suggested to the same user at most this often
    #: within share_cap_window_days, counted in the impression log (0: no cap).
    share_max_suggestions: int = Field(3, ge=0)
    share_cap_window_days: float = Field(7.0, gt=0.0)
    #: Never suggest a friend who bought the item within this many days (0: off).
    share_bought_window_days: float = Field(30.0, ge=0.0)

    #: Audience segments smaller than this many users are refused (docs/segments.md).
    segment_floor: int = Field(100, ge=1)
    #: Segment requests that may return more users than this run as background jobs (202).
    segment_sync_max: int = Field(10_000, ge=1)
    #: Folder of the segment jobs (SQLite state and Parquet results), shared by all workers;
    #: default segment_jobs/ beside the events folder (beside the models folder).
    jobs_dir: Path | None = None

    @property
    def event_store_path(self) -> Path:
        return self.events_db or live_paths(self.models_dir).store

    @property
    def impression_log_path(self) -> Path:
        return self.impressions_db or live_paths(self.models_dir).impressions

    @property
    def segment_jobs_path(self) -> Path:
        return self.jobs_dir or Path(self.models_dir).resolve().parent / "segment_jobs"

    @field_validator("api_keys")
    @classmethod
    def _check_keys(cls, keys: dict[str, str]) -> dict[str, str]:
        for key, role in keys.items():
            if len(key) < 16 or key != key.strip():
                raise ValueError(
                    "an API key must be at least 16 characters without surrounding spaces "
                    "(make one with: python -c 'import secrets; print(secrets.token_urlsafe())')"
                )
            parse_role(role)  # raises ValueError naming the role and what is expected
        return keys
