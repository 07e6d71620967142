"""The `recsys` command line: one typer app, one subcommand per offline job.

Each job lives in its own module of `pipelines/` and is only registered here.
"""

from __future__ import annotations

import logging

import typer

app = typer.Typer(
    name="recsys",
    help="Recommendation and interest-circle ranking for social e-commerce: offline jobs and API.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _main(verbose: bool = typer.Option(False, "--verbose", "-v", help="Debug logging.")) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


# Job registrations (one line each; the job modules own their options and help text).
from pipelines import ingest_job  # noqa: E402

app.command("ingest")(ingest_job.ingest)

from pipelines import import_job  # noqa: E402

app.command("import")(import_job.import_dataset)

from pipelines import synth_job  # noqa: E402

app.command("synth")(synth_job.synth)

from pipelines import models_cmd  # noqa: E402

app.add_typer(models_cmd.app, name="models")

from pipelines import train  # noqa: E402

app.command("train")(train.train)

from pipelines import demo  # noqa: E402

app.command("demo")(demo.demo)

from pipelines import evaluate  # noqa: E402

app.command("evaluate")(evaluate.evaluate)

from pipelines import refresh  # noqa: E402

app.command("refresh")(refresh.refresh)

from pipelines import serve_cmd  # noqa: E402

app.command("serve")(serve_cmd.serve)
