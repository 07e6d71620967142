"""Signing a bundle's manifest, so a bundle cannot be forged by editing it.

The manifest carries each file's sha256, but whoever edits a bundle can recompute those; an
HMAC-SHA256 of the manifest under a key kept outside the bundle cannot be recomputed without
the key. The signature covers the canonical JSON of every manifest field (sorted keys, no
spaces, UTF-8) and is stored in the manifest's own ``signature`` field, so a bundle stays one
folder with one manifest.

The key comes from settings, resolved at call time (never at import):

- ``RECSYS_BUNDLE_KEY``: the key itself (at least 16 characters), e.g. a CI or server secret;
- else the key file ``RECSYS_BUNDLE_KEY_FILE`` (default ``.recsys/bundle.key`` in the working
  directory, git-ignored). The first command that writes a bundle creates it (mode 0600) and
  logs where; commands that only read a bundle never create one.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from recsys.errors import BundleSignatureError

logger = logging.getLogger(__name__)

SIGNATURE_FIELD = "signature"
ALGORITHM = "hmac-sha256"
DEFAULT_KEY_FILE = Path(".recsys") / "bundle.key"
MIN_KEY_CHARS = 16


class KeySettings(BaseSettings):
    """Where the bundle key comes from (environment, prefix ``RECSYS_``)."""

    model_config = SettingsConfigDict(env_prefix="RECSYS_", frozen=True, extra="ignore")

    bundle_key: SecretStr | None = None
    bundle_key_file: Path = DEFAULT_KEY_FILE


@dataclass(frozen=True)
class BundleKey:
    """A signing key and where it came from (for messages; the secret never prints)."""

    secret: bytes = field(repr=False)
    source: str

    @property
    def key_id(self) -> str:
        """A short public name of the key, so a message can say "signed with another key"."""
        return hashlib.sha256(b"recsys bundle key id\0" + self.secret).hexdigest()[:12]

    def sign(self, body: dict[str, Any]) -> dict[str, str]:
        """The signature entry of a manifest whose fields (without a signature) are `body`."""
        value = hmac.new(self.secret, canonical_bytes(body), hashlib.sha256).hexdigest()
        return {"algorithm": ALGORITHM, "key_id": self.key_id, "value": value}


def canonical_bytes(body: dict[str, Any]) -> bytes:
    """One byte string per manifest content, whatever the file's layout or key order."""
    try:
        text = json.dumps(
            body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
    except ValueError as exc:  # NaN / Infinity: not JSON, never written by the writer
        raise BundleSignatureError(f"manifest holds a value JSON cannot carry: {exc}") from None
    return text.encode("utf-8")


def resolve_key(*, create: bool = False) -> BundleKey:
    """The bundle key from settings; with `create`, make the key file when there is none.

    Raises BundleSignatureError when the key is too short, the key file is unreadable, or
    there is no key and `create` is False (reading never invents a key: a new key could only
    call every existing bundle mis-signed).
    """
    settings = KeySettings()
    if settings.bundle_key is not None:
        return _checked(settings.bundle_key.get_secret_value(), "RECSYS_BUNDLE_KEY")
    path = settings.bundle_key_file
    if not path.is_file():
        if not create:
            raise BundleSignatureError(
                f"no bundle signing key: RECSYS_BUNDLE_KEY is not set and {path} does not "
                "exist (set RECSYS_BUNDLE_KEY or RECSYS_BUNDLE_KEY_FILE to the key that signed "
                "the bundles; training creates a key file when there is none)"
            )
        _create_key_file(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BundleSignatureError(f"{path}: cannot read the bundle key: {exc}") from None
    return _checked(text.strip(), str(path))


def _checked(secret: str, source: str) -> BundleKey:
    if len(secret) < MIN_KEY_CHARS:
        raise BundleSignatureError(
            f"{source}: bundle key has {len(secret)} characters, expected at least "
            f"{MIN_KEY_CHARS} (e.g. python -c 'import secrets; print(secrets.token_hex(32))')"
        )
    return BundleKey(secret.encode("utf-8"), source)


def _create_key_file(path: Path) -> None:
    """Write a fresh random key, readable by its owner only; never replace an existing one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first: use theirs
        return
    except OSError as exc:
        raise BundleSignatureError(f"{path}: cannot create the bundle key: {exc}") from None
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(secrets.token_hex(32) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    logger.warning(
        "created bundle signing key %s; bundles signed with it load only where this key is "
        "(keep it; set RECSYS_BUNDLE_KEY or RECSYS_BUNDLE_KEY_FILE on other machines)",
        path.resolve(),
    )


def check_signature(raw: dict[str, Any], where: str, key: BundleKey | None = None) -> None:
    """Refuse a manifest (parsed JSON, `raw`) that is unsigned or whose signature is wrong.

    The messages tell apart the three cases a user can act on: no signature at all (written
    by an older recsys or by hand), a signature made with another key (a bundle from another
    machine: set its key), and content altered after signing.
    """
    entry = raw.get(SIGNATURE_FIELD)
    if entry is None:
        raise BundleSignatureError(
            f"{where}: manifest is not signed; refusing an unsigned bundle (retrain it, or "
            "copy it with the key that signed it)"
        )
    if (
        not isinstance(entry, dict)
        or entry.get("algorithm") != ALGORITHM
        or not isinstance(entry.get("value"), str)
    ):
        raise BundleSignatureError(
            f"{where}: manifest signature is malformed (expected {{'algorithm': '{ALGORITHM}', "
            "'key_id': ..., 'value': ...}); refusing the bundle"
        )
    key = key or resolve_key()
    body = {k: v for k, v in raw.items() if k != SIGNATURE_FIELD}
    try:
        expected = key.sign(body)["value"]
    except BundleSignatureError as exc:
        raise BundleSignatureError(f"{where}: {exc}") from None
    if hmac.compare_digest(expected, entry["value"]):
        return
    if entry.get("key_id") != key.key_id:
        raise BundleSignatureError(
            f"{where}: manifest is signed with another key (key id {entry.get('key_id')}, this "
            f"machine's key {key.key_id} from {key.source}); refusing it (set RECSYS_BUNDLE_KEY "
            "or RECSYS_BUNDLE_KEY_FILE to the key that signed it)"
        )
    raise BundleSignatureError(
        f"{where}: manifest signature does not match its content: the manifest was altered "
        "after signing; refusing the bundle"
    )
