"""Metrics as plain numpy functions, read by training (holdout, placement checks) and evaluation
alike: ranking metrics over top-K lists (`ranking`) and circle placement metrics (`circles`).
Neither role owns them, so neither imports the other.
"""
