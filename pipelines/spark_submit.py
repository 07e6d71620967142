"""Entry point for `spark-submit`: the `recsys` command line inside a submitted application.

    spark-submit --master yarn pipelines/spark_submit.py train --data DATA --engine spark

Under spark-submit the session (master, executors, memory) is spark-submit's: `--master` is
left out of the recsys arguments. See docs/spark.md.
"""

from __future__ import annotations

from pipelines.cli import app

if __name__ == "__main__":
    app(prog_name="recsys")
