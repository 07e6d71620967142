"""Typed configuration: frozen pydantic models read from TOML, unknown keys rejected.

A typo in a config file must fail loudly, never fall back to a default silently.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ConfigDict
from pydantic import ValidationError as PydanticValidationError

from recsys.errors import ConfigError


class FrozenConfig(BaseModel):
    """Base for every config section: immutable, strict about unknown keys."""

    model_config = ConfigDict(frozen=True, extra="forbid")


ConfigT = TypeVar("ConfigT", bound=BaseModel)


def load_config(
    model: type[ConfigT], path: str | Path | None = None, **overrides: object
) -> ConfigT:
    """Build `model` from a TOML file (if given) with keyword overrides on top.

    Precedence: overrides > file > the model's defaults.
    """
    data: dict[str, object] = {}
    if path is not None:
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{path}: config file not found") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    data.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return model.model_validate(data)
    except PydanticValidationError as exc:
        where = f"{path}: " if path is not None else ""
        raise ConfigError(f"{where}invalid {model.__name__}:\n{exc}") from None
