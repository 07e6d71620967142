"""Training steps composed by `pipelines/train.py`: config, artefact layout, step timing."""
