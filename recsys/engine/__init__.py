"""Execution engines: where the heavy pipeline steps run (`base.py` says what an engine does;
`local.py` runs them in this process; `recsys.spark` on Apache Spark)."""
