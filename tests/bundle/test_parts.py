"""The typed parts of a trained bundle: save / load round trips (memory-mapped), builders."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import scipy.sparse as sp

from recsys.bundle.parts import BundleParts, Indexes, ItemCatalogue, SocialGraph, UserHistory
from recsys.contract import SOCIAL_EDGES, USERS
from recsys.datastore import DataDir
from recsys.errors import BundleError
from recsys.idmap import IdMap
from recsys.index.vector_index import IndexConfig, VectorIndex


def _equal(a: object, b: object, where: str) -> None:
    if isinstance(a, np.ndarray):
        np.testing.assert_array_equal(a, b, err_msg=where)
    elif sp.issparse(a):
        assert a.shape == b.shape and (a != b).nnz == 0, where
    elif isinstance(a, pa.Table):
        assert a.equals(b), where


def test_every_part_round_trips_memory_mapped(small_bundle, tmp_path: Path) -> None:
    parts = BundleParts.load(small_bundle["bundle"], mmap=True)
    parts.save(tmp_path / "copy")
    again = BundleParts.load(tmp_path / "copy", mmap=True)
    for part in dataclasses.fields(parts):
        a, b = getattr(parts, part.name), getattr(again, part.name)
        if dataclasses.is_dataclass(a):
            for f in dataclasses.fields(a):
                _equal(getattr(a, f.name), getattr(b, f.name), f"{part.name}.{f.name}")
    assert again.ids.users.ids.tolist() == parts.ids.users.ids.tolist()
    assert again.circles.catalogue == parts.circles.catalogue
    scorer, back = parts.scorer.model, again.scorer.model
    assert back.get_params() == scorer.get_params()
    np.testing.assert_array_equal(back.item_vectors_, scorer.item_vectors_)
    assert isinstance(back.user_factors_, np.memmap) and not back.user_factors_.flags.writeable
    assert again.indexes.items.ntotal == len(parts.ids.items)
    # memory-mapped sparse matrices still slice and multiply
    rows = again.history.interacted[np.arange(5)]
    assert rows.shape == (5, len(parts.ids.items))
    assert (again.social.friends @ np.ones(len(parts.ids.users))).sum() == parts.social.friends.nnz


def test_no_user_index_is_trained_and_an_older_bundle_with_one_still_loads(
    small_bundle, tmp_path: Path
) -> None:
    """Training writes no index over user vectors (nothing searches one); bundles written
    before that hold `index/users/` and must keep loading, with the index read back."""
    root = Path(small_bundle["bundle"])
    assert not (root / "index" / "users").exists()
    parts = BundleParts.load(root)
    assert parts.indexes.users is None
    vectors = np.asarray(parts.scorer.model.user_factors_)
    users = VectorIndex(IndexConfig(kind="flat")).build(vectors)
    dataclasses.replace(parts, indexes=Indexes(parts.indexes.items, users)).save(tmp_path / "old")
    assert (tmp_path / "old" / "index" / "users").is_dir()
    again = BundleParts.load(tmp_path / "old")
    assert again.indexes.users is not None
    assert again.indexes.users.ntotal == len(parts.ids.users)


def test_parts_that_disagree_on_sizes_are_refused(small_bundle) -> None:
    parts = BundleParts.load(small_bundle["bundle"])
    history = parts.history
    short = UserHistory(history.interacted[:-1], history.purchased[:-1])
    with pytest.raises(BundleError, match="history users"):
        dataclasses.replace(parts, history=short)
    with pytest.raises(BundleError, match="differ in shape"):
        UserHistory(history.interacted, history.purchased[:-1])


def test_item_catalogue_follows_the_items_table(small_bundle) -> None:
    data = DataDir(small_bundle["data"])
    parts = BundleParts.load(small_bundle["bundle"])
    catalogue = parts.catalogue
    table = data.read_table("items").to_pandas().set_index("item_id")
    table = table.loc[parts.ids.items.ids]
    np.testing.assert_array_equal(catalogue.listed, table["status"].eq("listed").to_numpy())
    np.testing.assert_array_equal(catalogue.is_group_buy, table["is_group_buy"].to_numpy())
    np.testing.assert_allclose(catalogue.price, table["price"].to_numpy())
    assert catalogue.strings("title").tolist() == table["title"].tolist()
    assert catalogue.value("merchant_id", 7) == table["merchant_id"].iloc[7]
    circles = parts.circles.catalogue
    owner = circles.category_to_circle()
    expected = [circles.index_of(owner[c]) if c in owner else -1 for c in table["category"]]
    assert catalogue.circle_idx.tolist() == expected
    codes = catalogue.category_codes()
    assert len(set(codes.tolist())) == table["category"].nunique()


def _users_and_edges(root: Path) -> DataDir:
    data = DataDir(root)
    ts = datetime(2024, 1, 1, tzinfo=UTC)
    data.write_table("users", pa.table({
        "user_id": ["a", "b", "c", "d"], "signup_ts": [ts] * 4, "gender": [None] * 4,
        "age_band": [None] * 4, "city": [None] * 4,
        "share_opt_out": [False, True, False, False],
    }, schema=USERS.schema))
    edges = [("a", "b", "friend"), ("b", "a", "friend"), ("c", "a", "friend"),
             ("a", "a", "friend"), ("d", "c", "blocked"), ("a", "zz", "friend"),
             ("b", "c", "shared_to")]
    data.write_table("social_edges", pa.table({
        "src": [e[0] for e in edges], "dst": [e[1] for e in edges],
        "kind": [e[2] for e in edges], "ts": [ts] * len(edges),
    }, schema=SOCIAL_EDGES.schema))
    return data


def test_social_graph_is_symmetric_and_built_from_the_tables(tmp_path: Path) -> None:
    users = IdMap(["a", "b", "c", "d"])
    graph = SocialGraph.from_data(_users_and_edges(tmp_path / "data"), users)
    friends = graph.friends.toarray()
    assert friends.tolist() == [[0, 1, 1, 0], [1, 0, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0]]
    assert graph.blocked.toarray().tolist() == [
        [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0]]
    assert graph.share_opt_out.tolist() == [False, True, False, False]
    graph.save(tmp_path / "bundle")
    back = SocialGraph.load(tmp_path / "bundle")
    assert (back.friends != graph.friends).nnz == 0 and (back.blocked != graph.blocked).nnz == 0
    # data without social edges gives an empty graph, not an error
    empty = SocialGraph.from_data(DataDir(tmp_path / "nothing"), users)
    assert empty.friends.nnz == 0 and empty.blocked.shape == (4, 4)


def test_item_catalogue_refuses_a_table_that_disagrees_with_the_id_map(small_bundle) -> None:
    data = DataDir(small_bundle["data"])
    parts = BundleParts.load(small_bundle["bundle"])
    with pytest.raises(BundleError, match="id map disagree"):
        ItemCatalogue.from_data(data, IdMap(parts.ids.items.ids[:-1]), parts.circles.catalogue)
