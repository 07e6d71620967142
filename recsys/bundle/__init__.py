"""Versioned model bundles: atomic writing, verified reading, and the promotion registry."""

from recsys.bundle.bundle import Bundle
from recsys.bundle.manifest import Manifest, data_fingerprint, library_versions
from recsys.bundle.registry import ModelRegistry
from recsys.bundle.writer import BundleWriter

__all__ = [
    "Bundle",
    "BundleWriter",
    "Manifest",
    "ModelRegistry",
    "data_fingerprint",
    "library_versions",
]
