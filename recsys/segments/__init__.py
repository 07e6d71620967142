"""Merchant audience segments: look-alike and affinity audiences with back-tested reach.

`Segmenter(parts, version).build(request, Scope(merchant_id))` is the whole API; docs/segments.md
describes the targets, scope rules, the floor and the reach curve.
"""

from recsys.segments.build import Segment, SegmentConfig, Segmenter
from recsys.segments.reach import Reach, ReachPoint
from recsys.segments.request import Filters, SegmentRequest, Target, TargetKind
from recsys.segments.scope import Resolved, Scope, resolve

__all__ = [
    "Filters",
    "Reach",
    "ReachPoint",
    "Resolved",
    "Scope",
    "Segment",
    "SegmentConfig",
    "SegmentRequest",
    "Segmenter",
    "Target",
    "TargetKind",
    "resolve",
]
