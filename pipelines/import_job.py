"""`recsys import FORMAT SRC --out DATA_DIR`: a public data set through an adapter, then ingest.

The adapter writes a source directory in the contract layout; the normal ingest then validates
it (quarantine, id maps, report) exactly like any other source. The adapter's `dataset.json`
and `meta/` side tables are copied next to the ingested data for the evaluation harness.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Annotated

import typer

from recsys.adapters import ADAPTERS, DATASET_JSON, META_DIR, AdapterInfo, adapt
from recsys.datastore import temp_sibling
from recsys.errors import RecsysError

logger = logging.getLogger(__name__)


def run_import(
    format: str,
    src: Path,
    out: Path,
    *,
    limit_users: int | None = None,
    source_dir: Path | None = None,
    force: bool = False,
) -> AdapterInfo:
    """Adapt `src` (format `format`) and ingest the result into `out`.

    The intermediate source directory is a temporary folder beside `out` (removed at the end,
    or by the next run if this one is killed), or `source_dir` when given (kept, for
    inspection). `out` is checked before the adapter runs, as ingest checks it (`force`).
    """
    from recsys.ingest import ingest  # heavy; only needed when a job actually runs
    from recsys.ingest.runner import claim_ingest_output

    inputs = {"raw data set folder": Path(src), "--keep-source folder": source_dir}
    out = claim_ingest_output(out, inputs=inputs, force=force)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_sibling(out, "source")
    try:
        if source_dir is None:
            tmp.mkdir()
        source = Path(source_dir) if source_dir is not None else tmp
        info = adapt(format, src, source, limit_users=limit_users)
        report = ingest(source, out, force=force)
        shutil.copy2(source / DATASET_JSON, out / DATASET_JSON)
        if (source / META_DIR).is_dir():
            shutil.copytree(source / META_DIR, out / META_DIR, dirs_exist_ok=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    logger.info(
        "imported %s from %s into %s: %s accepted, %d rows quarantined",
        format, src, out, {t: r.accepted for t, r in report.tables.items() if r.read},
        report.total_quarantined,
    )
    return info


def import_dataset(
    format: Annotated[str, typer.Argument(help=f"Data set format: {', '.join(ADAPTERS)}.")],
    src: Annotated[Path, typer.Argument(help="Folder with the data set's raw files.")],
    out: Annotated[Path, typer.Option("--out", help="Data directory to write (ingested).")],
    limit_users: Annotated[
        int | None, typer.Option("--limit-users", help="Import only the first N users.")
    ] = None,
    source_dir: Annotated[
        Path | None, typer.Option("--keep-source", help="Keep the adapter's source dir here.")
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Replace an existing --out folder that is not an earlier ingest output."
        ),
    ] = False,
) -> None:
    """Convert a public data set into the data contract and ingest it."""
    try:
        info = run_import(
            format, src, out, limit_users=limit_users, source_dir=source_dir, force=force
        )
    except RecsysError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from None
    typer.echo(f"{info.name}: {info.counts}")
    reported = {reason: n for reason, n in info.reported.items() if n}
    if reported:
        typer.echo(f"not imported (reported): {reported}")
    if not info.has_timestamps:
        typer.echo(
            f"note: {info.name} has no timestamps"
            + (" (ordered: position is the time)" if info.ordered else "")
            + (f"; predefined split in {info.split['path']}" if info.split else
               "; evaluate with a random split")
        )
