"""Offline jobs that compose the recsys library, and the `recsys` command line."""
