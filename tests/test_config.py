from __future__ import annotations

import pytest

from recsys.config import FrozenConfig, load_config
from recsys.errors import ConfigError


class _Demo(FrozenConfig):
    factors: int = 64
    alpha: float = 1.0


def test_precedence_overrides_file_defaults(tmp_path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("factors = 32\n")
    assert load_config(_Demo, path) == _Demo(factors=32, alpha=1.0)
    assert load_config(_Demo, path, alpha=2.0).alpha == 2.0
    assert load_config(_Demo).factors == 64


def test_a_typo_fails_loudly(tmp_path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("factor = 32\n")
    with pytest.raises(ConfigError, match="factor"):
        load_config(_Demo, path)
