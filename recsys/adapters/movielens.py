"""MovieLens 100K and 1M: genres become circles, every rating (or pair) becomes a "view".

All ratings count as positives for top-K (a rating means the user watched the film); the
rating value is kept in `meta/ratings.parquet` for anyone who wants to binarise at >= 4.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from recsys.adapters.common import (
    UNDATED,
    AdapterInfo,
    check_columns,
    circles_frame,
    first_users,
    items_frame,
    read_token_lines,
    reconcile,
    require,
    users_frame,
    write_source,
)

logger = logging.getLogger(__name__)

LICENCE = (
    "GroupLens research licence: research use only, acknowledge the data set, no redistribution, "
    "no commercial use without permission. Never ship it in a model bundle."
)

#: Chinese names for the genre circles (the platform shows circle names in Chinese).
GENRE_ZH = {
    "unknown": "未知", "Action": "动作", "Adventure": "冒险", "Animation": "动画",
    "Children's": "儿童", "Comedy": "喜剧", "Crime": "犯罪", "Documentary": "纪录片",
    "Drama": "剧情", "Fantasy": "奇幻", "Film-Noir": "黑色电影", "Horror": "恐怖",
    "Musical": "歌舞", "Mystery": "悬疑", "Romance": "爱情", "Sci-Fi": "科幻",
    "Thriller": "惊悚", "War": "战争", "Western": "西部",
}

#: ML-1M age buckets (users.dat) and the same bands applied to ML-100K's raw ages.
AGE_BANDS = {1: "under 18", 18: "18-24", 25: "25-34", 35: "35-44", 45: "45-49", 50: "50-55",
             56: "56+"}


def genre_circles(genres: list[str]) -> pd.DataFrame:
    """One circle per genre; the genre name is both circle id (slugged) and category."""
    return circles_frame(
        [(_slug(g), GENRE_ZH.get(g, g), g, [g]) for g in genres]
    )


def primary_genre(item_genres: pd.DataFrame, genres: list[str]) -> pd.Series:
    """Each item's rarest genre (the most telling one: Toy Story is Animation before Comedy).

    `item_genres` has columns item_id, genre (one row per flag); ties go to file order.
    """
    counts = item_genres["genre"].value_counts()
    ranked = item_genres.assign(
        n=item_genres["genre"].map(counts), pos=item_genres["genre"].map(
            {g: i for i, g in enumerate(genres)})
    ).sort_values(["item_id", "n", "pos"], kind="stable")
    return ranked.drop_duplicates("item_id").set_index("item_id")["genre"]


def adapt_movielens_100k(
    src: Path, out_src: Path, *, limit_users: int | None = None
) -> AdapterInfo:
    """Import MovieLens 100K (u.data, u.item, u.user, u.genre) into `out_src`."""
    src = Path(src)
    data_path = require(src / "u.data")
    ratings = pd.read_csv(data_path, sep="\t", header=None, names=["user", "item", "rating", "ts"])
    check_columns(ratings, data_path, ["user", "item", "rating", "ts"])
    genres = pd.read_csv(require(src / "u.genre"), sep="|", header=None, encoding="latin-1")[0]
    genres = [str(g) for g in genres.dropna()]
    item_path = require(src / "u.item")
    movies = pd.read_csv(
        item_path, sep="|", header=None, encoding="latin-1",
        names=["item", "title", "release", "video", "url", *genres],
    )
    check_columns(movies, item_path, ["item", *genres])
    users_raw = pd.read_csv(
        require(src / "u.user"), sep="|", header=None,
        names=["user", "age", "gender", "occupation", "zip"], dtype={"zip": str},
    )

    keep = first_users(ratings["user"], limit_users)
    raw_rows = len(ratings)
    ratings = ratings[ratings["user"].isin(keep)].reset_index()
    reported = {"ratings_of_users_outside_slice": raw_rows - len(ratings)}

    events = pd.DataFrame(
        {
            "event_id": "r" + ratings["index"].astype(str),
            "user_id": ratings["user"].astype(str),
            "item_id": ratings["item"].astype(str),
            "type": "view",
            "ts": pd.to_datetime(ratings["ts"], unit="s", utc=True),
        }
    )
    default_ts = events["ts"].min() if len(events) else UNDATED
    users_raw = users_raw[users_raw["user"].isin(keep)]
    users = users_frame(users_raw["user"].astype(str).to_numpy(), events, default_ts)
    users["gender"] = users_raw["gender"].to_numpy()
    users["age_band"] = _age_band(users_raw["age"]).to_numpy()

    flags = movies[genres].to_numpy().astype(bool)
    rows, cols = np.nonzero(flags)
    item_genres = pd.DataFrame(
        {"item_id": movies["item"].astype(str).to_numpy()[rows], "genre": np.asarray(genres)[cols]}
    )
    primary = primary_genre(item_genres, genres)
    items = items_frame(
        movies["item"].astype(str), movies["title"].fillna("untitled").astype(str),
        movies["item"].astype(str).map(primary).fillna("unknown"), events, default_ts,
        merchant="movielens",
    )
    reconcile(raw_rows, len(events), reported, f"{data_path}")
    info = AdapterInfo(
        name="movielens-100k", has_timestamps=True, ordered=True, timestamp_granularity="second",
        limit_users=limit_users, licence=LICENCE, reported=reported,
        notes=[
            "every rating (1-5) is one 'view' event: all ratings are positives for top-K; "
            "rating values in meta/ratings.parquet",
            "circles = the 19 genres; an item's category is its rarest genre, all its genres are "
            "in meta/item_genres.parquet",
            "signup_ts / created_ts = first rating time; no prices (0.0 = unknown), one "
            "merchant",
            "occupation and zip code in meta/user_features.parquet (zip is not a city)",
        ],
    )
    meta = {
        "ratings": events[["event_id", "user_id", "item_id"]].assign(
            rating=ratings["rating"].astype(np.int8).to_numpy()),
        "item_genres": item_genres,
        "user_features": pd.DataFrame({
            "user_id": users_raw["user"].astype(str).to_numpy(),
            "occupation": users_raw["occupation"].to_numpy(),
            "zip": users_raw["zip"].to_numpy(),
        }),
    }
    tables = {"circles": genre_circles(genres), "users": users, "items": items, "events": events}
    return write_source(out_src, info, tables, meta)


def adapt_movielens_1m(
    src: Path, out_src: Path, *, limit_users: int | None = None
) -> AdapterInfo:
    """Import the ML-1M pairs (train.txt/test.txt, no ratings, no times) into `out_src`.

    Ids in train/test are MovieID - 1 and UserID - 1; they are shifted back so item ids
    match movies.dat. The fixed split goes to meta/split.parquet.
    """
    src = Path(src)
    folds = [_read_sequences(require(src / f"{fold}.txt"), fold) for fold in ("train", "test")]
    pairs = pd.concat(folds, ignore_index=True)
    pairs["user"] += 1
    pairs["item"] += 1
    movies = pd.read_csv(
        require(src / "movies.dat"), sep="::", header=None, engine="python", encoding="latin-1",
        names=["item", "title", "genres"],
    )
    users_raw = pd.read_csv(
        require(src / "users.dat"), sep="::", header=None, engine="python",
        names=["user", "gender", "age", "occupation", "zip"], dtype={"zip": str},
    )
    keep = first_users(pairs["user"], limit_users)
    raw_rows = len(pairs)
    pairs = pairs[pairs["user"].isin(keep)].reset_index()
    reported = {"pairs_of_users_outside_slice": raw_rows - len(pairs)}
    events = pd.DataFrame(
        {
            "event_id": "p" + pairs["index"].astype(str),
            "user_id": pairs["user"].astype(str),
            "item_id": pairs["item"].astype(str),
            "type": "view",
            "ts": UNDATED,
        }
    )
    users_raw = users_raw[users_raw["user"].isin(keep)]
    users = users_frame(users_raw["user"].astype(str).to_numpy(), None, UNDATED)
    users["gender"] = users_raw["gender"].to_numpy()
    users["age_band"] = users_raw["age"].map(AGE_BANDS).to_numpy()

    item_genres = (
        movies.assign(genre=movies["genres"].str.split("|"))
        .explode("genre")[["item", "genre"]]
        .rename(columns={"item": "item_id"})
        .astype({"item_id": str})
    )
    genres = [g for g in GENRE_ZH if g in set(item_genres["genre"])]
    primary = primary_genre(item_genres, genres)
    items = items_frame(
        movies["item"].astype(str), movies["title"].astype(str),
        movies["item"].astype(str).map(primary), None, UNDATED, merchant="movielens",
    )
    reconcile(raw_rows, len(events), reported, str(src))
    split = pd.DataFrame(
        {"user_id": events["user_id"], "item_id": events["item_id"], "fold": pairs["fold"]}
    )
    info = AdapterInfo(
        name="movielens-1m", has_timestamps=False, ordered=False, limit_users=limit_users,
        licence=LICENCE, reported=reported,
        split={"path": "meta/split.parquet", "key": ["user_id", "item_id"],
               "folds": ["train", "test"]},
        notes=[
            "no timestamps and no rating values (the stored copy lost them): every pair is one "
            f"'view' event at the constant {UNDATED.isoformat()}; evaluate with the fixed split "
            "in meta/split.parquet, never with a temporal split",
            "circles = the 18 genres; an item's category is its rarest genre, all genres in "
            "meta/item_genres.parquet",
            "all 3,883 movies of movies.dat are items (3,706 have pairs); no prices "
            "(0.0 = unknown), one merchant",
            "occupation code and zip in meta/user_features.parquet",
        ],
    )
    meta = {
        "split": split,
        "item_genres": item_genres,
        "user_features": pd.DataFrame({
            "user_id": users_raw["user"].astype(str).to_numpy(),
            "occupation": users_raw["occupation"].to_numpy(),
            "zip": users_raw["zip"].to_numpy(),
        }),
    }
    tables = {"circles": genre_circles(genres), "users": users, "items": items, "events": events}
    return write_source(out_src, info, tables, meta)


def _read_sequences(path: Path, fold: str) -> pd.DataFrame:
    """`user item item ...` lines -> (user, item, fold) rows."""
    tokens = read_token_lines(path)
    user = tokens.loc[tokens["position"] == 0].set_index("line")["value"]
    items = tokens[tokens["position"] > 0]
    return pd.DataFrame(
        {"user": items["line"].map(user).to_numpy(), "item": items["value"].to_numpy(),
         "fold": fold}
    )


def _age_band(age: pd.Series) -> pd.Series:
    edges = [-1, 17, 24, 34, 44, 49, 55, 200]
    return pd.cut(age, bins=edges, labels=list(AGE_BANDS.values())).astype(str)


def _slug(name: str) -> str:
    return name.lower().replace("'", "").replace("-", "_")
