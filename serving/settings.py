"""Serving settings: one pydantic-settings class, env prefix RECSYS_, built in create_app()."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RECSYS_", frozen=True)

    models_dir: Path = Path("models")
    circles_path: Path | None = None  # default: the platform catalogue data/circles.toml
