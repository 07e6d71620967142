"""Realistic synthetic data in the contract layout, with the planted truth saved apart.

    from recsys.synth import SynthConfig, generate
    counts = generate(SynthConfig(n_users=5000, seed=1), "data/raw/sample")

See docs/synth.md for every knob (defaults are frozen) and the truth files.
"""

from recsys.synth.config import SynthConfig
from recsys.synth.generate import MANIFEST, TRUTH_DIR, generate

__all__ = ["MANIFEST", "TRUTH_DIR", "SynthConfig", "generate"]
