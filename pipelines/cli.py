"""The `recsys` command line: one typer app, one subcommand per offline job.

Each job lives in its own module of `pipelines/` and is only registered here, wrapped so that a
library error (`RecsysError`) or a file-system error on the user's paths prints as one red
line with exit code 1, never a traceback (`--verbose` logs the traceback too).

Help is plain click help (`rich_markup_mode=None`): rich markup would eat bracketed words such
as the `[bundle]` of a config section, and rich's type column shows `<bool>` beside flags as
if they took a value.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as dist_version
from typing import ParamSpec, TypeVar

import typer

import recsys
from recsys.errors import RecsysError

logger = logging.getLogger("recsys.cli")

P = ParamSpec("P")
R = TypeVar("R")

app = typer.Typer(
    name="recsys",
    help="Recommendation and interest-circle ranking for social e-commerce: offline jobs and API.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"max_content_width": 120},
)


def package_version() -> str:
    """The installed distribution's version (pyproject.toml), else the source tree's."""
    try:
        return dist_version("recsys")
    except PackageNotFoundError:
        return recsys.__version__


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"recsys {package_version()}")
        raise typer.Exit()


@app.callback()
def _main(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Debug logging."),
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True,
        help="Print the version and exit.",
    ),
) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def one_line_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Wrap a command: RecsysError or OSError -> one red line on stderr and exit code 1."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except (RecsysError, OSError) as exc:
            logger.debug("%s failed", getattr(command, "__name__", "command"), exc_info=True)
            typer.secho(f"error: {' '.join(str(exc).split())}", fg="red", err=True)
            raise typer.Exit(1) from None

    return wrapper


def register(name: str, command: Callable[..., object]) -> None:
    app.command(name)(one_line_errors(command))


# Job registrations (one line each; the job modules own their options and help text).
from pipelines import ingest_job  # noqa: E402

register("ingest", ingest_job.ingest)

from pipelines import import_job  # noqa: E402

register("import", import_job.import_dataset)

from pipelines import synth_job  # noqa: E402

register("synth", synth_job.synth)

from pipelines import models_cmd  # noqa: E402

for _info in models_cmd.app.registered_commands:
    _info.callback = one_line_errors(_info.callback)  # type: ignore[arg-type]
app.add_typer(models_cmd.app, name="models")

from pipelines import train  # noqa: E402

register("train", train.train)

from pipelines import demo  # noqa: E402

register("demo", demo.demo)

from pipelines import evaluate  # noqa: E402

register("evaluate", evaluate.evaluate)

from pipelines import refresh  # noqa: E402

register("refresh", refresh.refresh)

from pipelines import segment_cmd  # noqa: E402

register("segment", segment_cmd.segment)

from pipelines import events_cmd  # noqa: E402

for _info in events_cmd.app.registered_commands:
    _info.callback = one_line_errors(_info.callback)  # type: ignore[arg-type]
app.add_typer(events_cmd.app, name="events")

from pipelines import serve_cmd  # noqa: E402

register("serve", serve_cmd.serve)
