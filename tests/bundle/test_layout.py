"""The layout is the one owner of bundle file names: nothing else spells them."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from recsys.bundle import layout
from recsys.bundle.layout import BundleLayout, load_csr, save_csr
from recsys.errors import BundleError

ROOT = Path(__file__).resolve().parents[2]
#: Names of the bundle format before the layout existed: none may come back.
RETIRED = ("items_meta.parquet", "item_vectors.npy", "user_items/", "item_knn/", "placement/")


def _names() -> list[str]:
    return [v for k, v in vars(layout).items() if k.isupper() and isinstance(v, str)
            and ("/" in v or v.endswith((".npy", ".arrow", ".parquet")))]


def test_no_other_module_spells_a_bundle_file_name() -> None:
    sources = [p for d in ("recsys", "pipelines", "serving") for p in (ROOT / d).rglob("*.py")
               if p.name != "layout.py"]
    offenders = []
    for path in sources:
        text = path.read_text(encoding="utf-8")
        for name in [*_names(), *RETIRED]:
            if re.search(rf"[\"'/]{re.escape(name)}", text):
                offenders.append(f"{path.relative_to(ROOT)}: {name}")
    assert offenders == []


def test_paths_stay_inside_the_bundle(tmp_path: Path) -> None:
    paths = BundleLayout(tmp_path)
    assert paths.path(layout.SCORER) == tmp_path / "scorer"
    assert paths.npy(layout.CATALOGUE, "listed") == tmp_path / "catalogue" / "listed.npy"
    for bad in ("../x", "/etc/passwd", ""):
        with pytest.raises(BundleError):
            paths.path(bad)
    with pytest.raises(BundleError, match="CSR"):
        paths.csr_file(layout.HISTORY_INTERACTED, "weights")


def test_csr_round_trip_is_memory_mapped_and_checked(tmp_path: Path) -> None:
    m = sp.random(30, 20, density=0.2, format="csr", dtype=np.float32, random_state=0)
    save_csr(tmp_path / "m", m)
    back = load_csr(tmp_path / "m")
    assert isinstance(back.data, np.memmap) and not back.indices.flags.writeable
    assert (back != m).nnz == 0
    np.save(tmp_path / "m" / "shape.npy", np.array([31, 20]))
    with pytest.raises(BundleError, match="disagree"):
        load_csr(tmp_path / "m")
