"""Import adapters: public data sets -> a source directory in the contract layout.

Each adapter is a plain function ``adapt_<name>(src, out_src, *, limit_users=None) ->
AdapterInfo``; `ADAPTERS` maps the CLI format names to them (an explicit table, no plugin
discovery). `docs/datasets.md` documents every mapping decision.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from recsys.adapters.amazon import adapt_amazon_beauty
from recsys.adapters.brightkite import adapt_brightkite_gb
from recsys.adapters.common import DATASET_JSON, META_DIR, UNDATED, AdapterInfo
from recsys.adapters.lastfm import adapt_lastfm_hetrec
from recsys.adapters.movielens import adapt_movielens_1m, adapt_movielens_100k
from recsys.adapters.taobao import adapt_taobao
from recsys.errors import ConfigError

Adapter = Callable[..., AdapterInfo]

ADAPTERS: dict[str, Adapter] = {
    "movielens-100k": adapt_movielens_100k,
    "movielens-1m": adapt_movielens_1m,
    "lastfm-hetrec": adapt_lastfm_hetrec,
    "amazon-beauty": adapt_amazon_beauty,
    "taobao": adapt_taobao,
    "brightkite-gb": adapt_brightkite_gb,
}


def get_adapter(format: str) -> Adapter:
    """The adapter for `format`; ConfigError listing the known formats otherwise."""
    try:
        return ADAPTERS[format]
    except KeyError:
        raise ConfigError(
            f"unknown import format {format!r}; expected one of {sorted(ADAPTERS)}"
        ) from None


def adapt(
    format: str, src: str | Path, out_src: str | Path, *, limit_users: int | None = None
) -> AdapterInfo:
    """Run the adapter for `format` over the raw folder `src` into `out_src`."""
    if limit_users is not None and limit_users < 1:
        raise ConfigError(f"limit_users must be >= 1; got {limit_users}")
    return get_adapter(format)(Path(src), Path(out_src), limit_users=limit_users)


__all__ = [
    "ADAPTERS", "DATASET_JSON", "META_DIR", "UNDATED", "AdapterInfo", "adapt", "get_adapter",
]
