"""The Spark engine: the heavy pipeline steps as Spark jobs over the same Parquet layout.

`session.spark_session` starts (or reuses) a SparkSession after checking for Java;
`ingest.spark_ingest` validates and quarantines like `recsys.ingest.ingest`; the training
steps (`interactions`, `engagement`, `als`, `scoring`) aggregate, factorise and score on the
cluster and hand the driver only what the bundle holds. Nothing here collects an event table.
Importing this package needs the optional `spark` extra (pyspark).
"""
