"""Page cursors: an opaque, signed token that pins what earlier pages showed.

A feed is ranked again for every page (new events, a hot-swapped model), so "page 2" cannot be
"positions 10-19": the order may have moved. The cursor instead carries a 4-byte hash of every
id shown so far, and the next page leaves them out: **pages never repeat**, whatever model
answers them. It also names the viewer (and the circle, for a circle feed), the model version
of the first page and the page number, and ends in an HMAC-SHA256 tag (16 bytes) under a
server-side secret, so an altered, truncated or borrowed cursor is refused
(`InvalidCursorError`, the server's 422 naming ``cursor``) instead of silently misread.

A hash collision can only hide an unseen item (never show one twice); at the default depth of
500 ids the chance that a given candidate is hidden is about 1 in 10 million. The cursor grows
by 4 bytes per item shown (a 500-item cursor is about 2.7 kB of URL-safe base64); past
`max_depth` ids the feed ends.

Layout (before base64url, no padding)::

    version u8 | kind u8 | scope blake2b-8 | page u16 | n_version u8 | model version utf-8 |
    n_shown u16 | shown u32 x n_shown | tag 16
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np

from recsys.errors import ConfigError, InvalidCursorError

VERSION = 1
TAG_BYTES = 16
_HEAD = struct.Struct("<BB8sHB")
_COUNT = struct.Struct("<H")
#: The most ids one cursor can carry (its count is a u16).
MAX_SHOWN = 65_535


class FeedKind(IntEnum):
    """Which feed a cursor pages through."""

    ITEMS = 1  # a user's home feed
    POSTS = 2  # a circle feed for a user


def id_hashes(ids: Iterable[str]) -> np.ndarray:
    """(n,) uint32: a 4-byte blake2b hash of each id (what a cursor remembers of it)."""
    return np.array(
        [int.from_bytes(hashlib.blake2b(str(i).encode(), digest_size=4).digest(), "little")
         for i in ids],
        dtype=np.uint32,
    )


def _scope(kind: FeedKind, viewer: str, circle: str | None) -> bytes:
    text = f"{kind.value}\x00{viewer}\x00{circle or ''}"
    return hashlib.blake2b(text.encode(), digest_size=8).digest()


@dataclass(frozen=True)
class PageState:
    """What a cursor pins: whose feed, which page comes next, what was shown."""

    kind: FeedKind
    viewer: str
    circle: str | None
    page: int  # the number of the page the cursor asks for (the first is 1)
    model_version: str  # the version that answered the first page
    shown: np.ndarray = field(default_factory=lambda: np.empty(0, np.uint32))

    def after(self, shown_ids: Iterable[str]) -> PageState:
        """The state for the next page, once `shown_ids` were shown."""
        shown = np.union1d(self.shown, id_hashes(shown_ids)).astype(np.uint32)
        return PageState(self.kind, self.viewer, self.circle, self.page + 1,
                         self.model_version, shown)

    def was_shown(self, ids: Iterable[str]) -> np.ndarray:
        """(n,) bool: which of `ids` an earlier page showed (by hash)."""
        return np.isin(id_hashes(ids), self.shown)


def first_page(kind: FeedKind, viewer: str, model_version: str,
               circle: str | None = None) -> PageState:
    return PageState(kind, viewer, circle, 1, model_version)


class CursorCodec:
    """Encodes and checks cursors under one secret (every worker must share it)."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ConfigError("the cursor secret must be at least 16 bytes")
        self._secret = secret

    def _tag(self, body: bytes) -> bytes:
        return hmac.new(self._secret, body, hashlib.sha256).digest()[:TAG_BYTES]

    def encode(self, state: PageState) -> str:
        version = state.model_version.encode()[:255]
        shown = np.asarray(state.shown, dtype="<u4")
        if len(shown) > MAX_SHOWN:
            raise InvalidCursorError(f"a cursor holds at most {MAX_SHOWN} ids")
        body = (
            _HEAD.pack(VERSION, state.kind.value, _scope(state.kind, state.viewer, state.circle),
                       min(state.page, 65_535), len(version))
            + version + _COUNT.pack(len(shown)) + shown.tobytes()
        )
        return base64.urlsafe_b64encode(body + self._tag(body)).rstrip(b"=").decode()

    def decode(self, token: str, *, kind: FeedKind, viewer: str,
               circle: str | None = None) -> PageState:
        """The state `token` pins; InvalidCursorError when it is not one this server made for
        this viewer and feed."""
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError):
            raise InvalidCursorError("cursor is not a cursor this feed returned") from None
        body, tag = raw[:-TAG_BYTES], raw[-TAG_BYTES:]
        if len(raw) < _HEAD.size + _COUNT.size + TAG_BYTES or not hmac.compare_digest(
            tag, self._tag(body)
        ):
            raise InvalidCursorError("cursor was altered or not made by this service")
        version, got_kind, scope, page, n_version = _HEAD.unpack_from(body)
        if version != VERSION:
            raise InvalidCursorError(f"cursor format {version} is not {VERSION}")
        if got_kind != kind.value or scope != _scope(kind, viewer, circle):
            raise InvalidCursorError("cursor belongs to another feed or user")
        at = _HEAD.size
        model_version = body[at: at + n_version].decode()
        at += n_version
        (n_shown,) = _COUNT.unpack_from(body, at)
        at += _COUNT.size
        shown = np.frombuffer(body[at:], dtype="<u4")
        if len(shown) != n_shown:
            raise InvalidCursorError("cursor was altered or not made by this service")
        return PageState(kind, viewer, circle, page, model_version, shown.astype(np.uint32))


def derive_secret(key: bytes, purpose: str = "recsys feed cursor") -> bytes:
    """A cursor secret derived from another server-side key (e.g. the bundle signing key), so
    every worker of a deployment shares it without a setting of its own."""
    return hmac.new(key, purpose.encode(), hashlib.sha256).digest()
