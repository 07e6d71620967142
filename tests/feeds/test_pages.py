"""Cursors: round trip, pinned ids, refusal of anything altered or borrowed."""

from __future__ import annotations

import base64

import numpy as np
import pytest

from recsys.errors import ConfigError, InvalidCursorError
from recsys.feeds.pages import CursorCodec, FeedKind, derive_secret, first_page, id_hashes

CODEC = CursorCodec(b"x" * 32)


def _next(ids: list[str]) -> str:
    state = first_page(FeedKind.ITEMS, "u1", "v-one").after(ids)
    return CODEC.encode(state)


def test_round_trip_pins_what_was_shown() -> None:
    token = _next(["i1", "i2", "i3"])
    state = CODEC.decode(token, kind=FeedKind.ITEMS, viewer="u1")
    assert state.page == 2 and state.model_version == "v-one"
    assert state.was_shown(["i2", "i9", "i1"]).tolist() == [True, False, True]
    later = state.after(["i9"])
    assert later.page == 3 and later.was_shown(["i9", "i3"]).all()
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def test_hashes_are_stable_and_four_bytes() -> None:
    assert id_hashes(["a", "a", "b"]).dtype == np.uint32
    assert id_hashes(["a"])[0] == id_hashes(["a"])[0] != id_hashes(["b"])[0]


@pytest.mark.parametrize("mangle", [
    lambda t: t[:-2],                                   # truncated
    lambda t: t[:10] + ("A" if t[10] != "A" else "B") + t[11:],  # one character changed
    lambda t: "not a cursor!",                          # garbage
    lambda t: "",                                       # empty
])
def test_an_altered_cursor_is_refused(mangle) -> None:
    with pytest.raises(InvalidCursorError):
        CODEC.decode(mangle(_next(["i1"])), kind=FeedKind.ITEMS, viewer="u1")


def test_a_cursor_of_another_user_feed_or_key_is_refused() -> None:
    token = _next(["i1"])
    with pytest.raises(InvalidCursorError, match="another feed or user"):
        CODEC.decode(token, kind=FeedKind.ITEMS, viewer="u2")
    with pytest.raises(InvalidCursorError, match="another feed or user"):
        CODEC.decode(token, kind=FeedKind.POSTS, viewer="u1", circle="c1")
    with pytest.raises(InvalidCursorError, match="altered"):
        CursorCodec(b"y" * 32).decode(token, kind=FeedKind.ITEMS, viewer="u1")


def test_a_re_signed_body_with_more_ids_is_refused() -> None:
    raw = base64.urlsafe_b64decode(_next(["i1"]) + "==")
    forged = base64.urlsafe_b64encode(raw[:-16] + b"\0\0\0\0" + raw[-16:]).decode()
    with pytest.raises(InvalidCursorError):
        CODEC.decode(forged, kind=FeedKind.ITEMS, viewer="u1")


def test_secrets_derive_and_short_ones_are_refused() -> None:
    assert derive_secret(b"k" * 20) == derive_secret(b"k" * 20) != derive_secret(b"j" * 20)
    with pytest.raises(ConfigError):
        CursorCodec(b"short")
