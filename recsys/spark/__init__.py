"""The Spark engine: the heavy pipeline steps as Spark jobs over the same Parquet layout.

`session` starts a SparkSession after checking for Java; `ingest` validates and quarantines as
`recsys.ingest.ingest` does (staging in `stage`, cell parsing in `parse`, the shared rule book
in `check`, output in `write`); `interactions` aggregates events for training; `als` fits
MLlib's implicit ALS under the `[cf]` mapping; `training.SparkEngine` is the training engine
(`recsys.engine`) that uses them. Nothing here collects an event table. Importing this package
needs the optional `spark` extra (pyspark); nothing outside it imports pyspark.
"""
