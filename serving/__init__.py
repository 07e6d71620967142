"""The HTTP API: thin FastAPI routes over library calls (no model maths here)."""
