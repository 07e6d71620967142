"""Training: the composition (`run.py`), its steps, the catalogue refresh and step timing."""
