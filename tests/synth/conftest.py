"""One small sample shared by the synth tests (generated once per session)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from recsys.datastore import DataDir
from recsys.synth import SynthConfig, generate

SAMPLE = SynthConfig(n_users=3000, seed=7, chunk_users=1100)


@pytest.fixture(scope="session")
def sample_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "sample"
    generate(SAMPLE, out)
    return out


@pytest.fixture(scope="session")
def con(sample_dir: Path) -> duckdb.DuckDBPyConnection:
    con = DataDir(sample_dir).connect()
    for name in ("user_interests", "users", "items"):
        path = sample_dir / "truth" / f"{name}.parquet"
        con.execute(f"CREATE VIEW truth_{name} AS SELECT * FROM read_parquet('{path}')")
    return con


def one(con: duckdb.DuckDBPyConnection, sql: str):
    return con.execute(sql).fetchone()[0]
