"""The cold-item experiment on real data: HetRec Last.fm artists, their names and tags.

Artists play the items, user tags play the UGC text. 10% of the artists with >= 5 listeners
are made cold (every listening pair hidden); the tags their own listeners wrote are dropped
too, so a cold artist's text comes only from its name and from users who never listened to it.
Category = the artist's most-assigned tag among the 21 most-used tags (the data set's natural
circle vocabulary), "other" when it has none of them. Run with
``pytest tests/content/test_lastfm_cold_start.py -m slow -s`` to print the figures.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from implicit.cpu.als import AlternatingLeastSquares
from threadpoolctl import threadpool_limits

from recsys.content.cold_start import (
    evaluate_cold_items,
    heldout_interactions,
    place_cold_items,
    split_cold_items,
)
from recsys.content.encoder import ContentEncoder
from tests.conftest import shared_dataset

pytestmark = [pytest.mark.slow, pytest.mark.datasets]
N_CIRCLES = 21


def _load():
    root = shared_dataset("lastfm_hetrec2k")
    plays = pd.read_csv(root / "user_artists.dat", sep="\t")
    tagged = pd.read_csv(root / "user_taggedartists.dat", sep="\t")
    tags = pd.read_csv(root / "tags.dat", sep="\t", encoding="latin-1")
    artists = pd.read_csv(root / "artists.dat", sep="\t", usecols=["id", "name"])
    return plays, tagged, tags, artists


def test_lastfm_cold_artists_beat_category_popularity() -> None:
    plays, tagged, tags, artists = _load()
    artist_ids = np.sort(artists["id"].to_numpy())
    user_ids = np.sort(plays["userID"].unique())
    rows = np.searchsorted(user_ids, plays["userID"].to_numpy())
    cols = np.searchsorted(artist_ids, plays["artistID"].to_numpy())
    shape = (len(user_ids), len(artist_ids))
    # Confidence grows with the log of the play count, as usual for implicit feedback.
    confidence = np.log1p(plays["weight"].to_numpy()).astype(np.float32)
    x = sp.csr_matrix((confidence, (rows, cols)), shape)
    train, cold = split_cold_items(x, share=0.1, min_interactions=5, seed=0)

    tagged = tagged[tagged["artistID"].isin(artist_ids)].merge(tags, on="tagID")
    tagged["col"] = np.searchsorted(artist_ids, tagged["artistID"].to_numpy())
    pairs = plays[["userID", "artistID"]].assign(listener=True)
    tagged = tagged.merge(pairs, on=["userID", "artistID"], how="left")
    by_listener = tagged["listener"].eq(True).to_numpy()
    text_tags = tagged[~(np.isin(tagged["col"], cold) & by_listener)]
    tag_text = text_tags.groupby("col")["tagValue"].agg(" ".join)
    names = artists.set_index("id").loc[artist_ids, "name"].to_numpy()
    docs = pd.Series(names, dtype=object).str.cat(
        tag_text.reindex(np.arange(len(artist_ids)), fill_value=""), sep=" "
    ).tolist()

    top = tagged["tagValue"].value_counts().index[:N_CIRCLES]
    circle_counts = tagged[tagged["tagValue"].isin(top)].groupby(["col", "tagValue"]).size()
    best = circle_counts.sort_values(ascending=False, kind="stable").reset_index()
    best = best.drop_duplicates("col").set_index("col")["tagValue"]
    category = best.reindex(np.arange(len(artist_ids)), fill_value="other").to_numpy()

    with threadpool_limits(1, "blas"):
        als = AlternatingLeastSquares(
            factors=64, regularization=0.05, alpha=10.0, iterations=15, random_state=0
        )
        als.fit(train, show_progress=False)
    warm = np.setdiff1d(np.arange(len(artist_ids)), cold)
    encoder = ContentEncoder(n_components=64, min_df=2, random_state=0)
    encoder.fit([docs[i] for i in warm])
    content = encoder.transform(docs)
    counts = np.bincount(train.indices, minlength=len(artist_ids))
    vectors, fmap = place_cold_items(
        als.item_factors, content, cold, alpha=1.0, item_weight=np.log1p(counts)
    )
    held = heldout_interactions(x, cold)
    within = evaluate_cold_items(
        als.user_factors, vectors, held, category, counts, seen=train, seed=0
    )
    overall = evaluate_cold_items(
        als.user_factors, vectors, held, np.zeros(len(artist_ids)), counts, seen=train, seed=0
    )
    print(f"\nLast.fm cold artists: {len(cold)} cold, map train R^2 {fmap.train_r2_:.3f}")
    for label, m in (("within category", within), ("all artists", overall)):
        print(label, {k: round(v, 4) for k, v in m.items()})
    assert within["n_pairs"] > 2000
    assert within["model_auc"] > within["popularity_auc"] + 0.1
    assert within["model_mrr"] > within["popularity_mrr"]
    assert within["model_hit@10"] > within["popularity_hit@10"]
    assert within["model_auc"] > within["random_auc"] + 0.1
