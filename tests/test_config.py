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


class _Outer(FrozenConfig):
    seed: int = 0
    inner: _Demo = _Demo()


def test_errors_are_one_line_naming_each_key_and_the_keys_that_exist(tmp_path) -> None:
    """A command prints a config error as one line: pydantic's multi-line report is folded."""
    path = tmp_path / "c.toml"
    path.write_text('sed = 1\n[inner]\nfactor = 3\nalpha = "lots"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(_Outer, path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: invalid _Outer: ")
    assert "unknown key 'sed' (expected one of: inner, seed)" in message
    assert "unknown key 'inner.factor' (expected one of: alpha, factors)" in message
    assert "'inner.alpha': Input should be a valid number" in message and "(got 'lots')" in message
