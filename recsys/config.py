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
        details = describe_errors(model, exc)
        raise ConfigError(f"{where}invalid {model.__name__}: {details}") from None


def describe_errors(model: type[BaseModel], exc: PydanticValidationError) -> str:
    """Pydantic's multi-line report as one line: each wrong key, what was wrong, what it got.

    A command prints a config error as one line; an unknown key also lists the keys that
    exist at its level, since the usual cause is a typo.
    """
    parts = []
    for error in exc.errors():
        loc = [str(p) for p in error["loc"]]
        key = ".".join(loc) or "(top level)"
        if error["type"] == "extra_forbidden":
            known = _keys_at(model, loc[:-1])
            hint = f" (expected one of: {', '.join(known)})" if known else ""
            parts.append(f"unknown key '{key}'{hint}")
            continue
        got = repr(error.get("input"))
        got = got if len(got) <= 60 else got[:57] + "..."
        msg = str(error["msg"]).removeprefix("Value error, ")
        parts.append(f"'{key}': {msg} (got {got})")
    return "; ".join(parts)


def _keys_at(model: type[BaseModel], loc: list[str]) -> list[str]:
    """The field names of the (nested) section at `loc`, or [] when it is not a model."""
    current: object = model
    for part in loc:
        fields = getattr(current, "model_fields", {})
        if part not in fields:
            return []
        current = fields[part].annotation
    if isinstance(current, type) and issubclass(current, BaseModel):
        return sorted(current.model_fields)
    return []
