"""`recsys events`: the live rows the server stored between retrains (docs/events.md)."""

from __future__ import annotations

from pathlib import Path

import typer

from recsys.errors import ConfigError
from recsys.events.export import export_delta
from recsys.events.store import SQLiteEventStore, live_paths

app = typer.Typer(
    help="Live events, group buys and posts stored by the server.", no_args_is_help=True
)


@app.command("export")
def export(
    out: Path = typer.Option(..., "--out", help="Delta folder to write (new, empty, or an "
                             "earlier export; anything else needs --force)."),
    models_dir: Path = typer.Option(
        Path("models"), "--models-dir", help="Models folder; the store is events/ beside it."
    ),
    store: Path | None = typer.Option(
        None, "--store", help="The event store file (default: events/events.sqlite3 beside "
        "--models-dir, as `recsys serve` writes it)."
    ),
    everything: bool = typer.Option(
        False, "--all", help="Write every stored row, not only those since the last export."
    ),
    force: bool = typer.Option(False, "--force", help="Replace an --out that is not an export."),
) -> None:
    """Write the live rows as a delta that `recsys refresh --new` and `recsys ingest` accept."""
    path = store or live_paths(models_dir).store
    if not path.is_file():
        raise ConfigError(f"--store {path}: no event store there (has `recsys serve` run?)")
    summary = export_delta(SQLiteEventStore(path), out, force=force, everything=everything)
    counts = ", ".join(f"{table} {n}" for table, n in summary.rows.items())
    typer.echo(f"wrote {summary.out}: {counts}")
