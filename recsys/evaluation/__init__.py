"""Offline evaluation: seeded splits, full-ranking metrics, model comparison, tuning, reports."""
