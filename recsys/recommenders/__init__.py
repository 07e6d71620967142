"""Recommender models sharing one contract (`base.Recommender`)."""
