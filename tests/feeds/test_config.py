from __future__ import annotations

from pathlib import Path

import pytest

from recsys.config import load_config
from recsys.errors import ConfigError
from recsys.feeds.config import RankedConfig

RANKED_TOML = Path(__file__).resolve().parents[2] / "pipelines" / "configs" / "ranked.toml"


def test_ranked_toml_documents_exactly_the_code_defaults() -> None:
    assert load_config(RankedConfig, RANKED_TOML) == RankedConfig()


def test_repeated_source_names_and_no_proposer_fail(tmp_path) -> None:
    path = tmp_path / "r.toml"
    path.write_text('[[sources]]\nname = "a"\nkind = "als"\n[[sources]]\nname = "a"\n'
                    'kind = "ease"\n')
    with pytest.raises(ConfigError, match="repeated"):
        load_config(RankedConfig, path)
    path.write_text('[[sources]]\nname = "a"\nkind = "als"\nn = 0\n')
    with pytest.raises(ConfigError, match="n > 0"):
        load_config(RankedConfig, path)
    path.write_text('[[sources]]\nname = "a"\nkind = "sansa"\n')
    with pytest.raises(ConfigError, match="kind"):
        load_config(RankedConfig, path)
