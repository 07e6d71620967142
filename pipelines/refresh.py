"""`recsys refresh`: new items and posts reach feeds between retrains, in minutes.

Ingests the delta into the data directory (validated, quarantined, counted), gives new items
content-mapped vectors, appends them to the item index, rebuilds the candidate lists, writes a
child bundle and promotes it. A failed run leaves the data, the bundles and the promoted pointer
as they were.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import typer

from recsys.training.refresh import refresh_catalogue

logger = logging.getLogger("recsys.refresh")


def refresh(
    data: Path = typer.Option(..., "--data", help="Ingested data directory to refresh."),
    new: Path = typer.Option(
        ..., "--new", help="Delta folder: new rows per table (items.csv, posts.csv, ...)."
    ),
    models_dir: Path = typer.Option(Path("models"), "--models-dir", help="Where bundles live."),
    promote: bool = typer.Option(
        True, "--promote/--no-promote", help="Promote the refreshed bundle (default: yes)."
    ),
) -> None:
    """Add new items and posts to the promoted bundle without a full retrain."""
    summary = refresh_catalogue(data, new, models_dir, promote=promote)
    state = "promoted" if summary.promoted else "not promoted (--no-promote)"
    typer.echo(f"bundle {summary.version} (from {summary.parent_version}), {state}")
    typer.echo(
        f"new items {summary.new_items}, new posts {summary.new_posts}, "
        f"status updates {summary.status_updates} ({summary.delisted_items} delisted), "
        f"cold items re-mapped {summary.remapped_cold_items}, {summary.seconds:.1f} s"
    )
    if summary.quarantined:
        typer.secho(
            f"quarantined rows: {json.dumps(summary.quarantined)} (see {data / 'quarantine'})",
            fg="yellow",
        )
    if summary.new_users_not_placed:
        typer.secho(
            f"{summary.new_users_not_placed} new users are not in the bundle: they get "
            "recommendations after the next retrain",
            fg="yellow",
        )
