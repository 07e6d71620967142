"""`recsys ingest SRC --out DATA_DIR [--map mapping.toml]`: validated ingestion from the shell."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pipelines.engine_opts import EngineOpt, MasterOpt, check_engine, start_spark
from recsys.errors import RecsysError
from recsys.ingest import ColumnMap
from recsys.ingest import ingest as run_ingest
from recsys.ingest.runner import DEFAULT_MAX_QUARANTINE_SHARE, claim_ingest_output

SrcArg = Annotated[
    Path, typer.Argument(help="Folder of <table>.csv, <table>.parquet or <table>/ Parquet parts.")
]
OutOpt = Annotated[
    Path,
    typer.Option(
        "--out",
        help="Data directory to write (replaced on success); new, empty or an earlier ingest "
        "output, never the source or a folder around it.",
    ),
]
MapOpt = Annotated[
    Path | None,
    typer.Option("--map", help="Column mapping TOML for your own logs (see docs/ingest.md)."),
]
CirclesOpt = Annotated[
    Path | None, typer.Option(help="Circle catalogue TOML when SRC has no circles table.")
]
MemoryOpt = Annotated[
    str,
    typer.Option(
        help="DuckDB memory limit such as 2GB or 512MB (auto: half this machine's memory, at "
        "least 2GB); the rest spills to disk."
    ),
]
ShareOpt = Annotated[
    float,
    typer.Option(
        "--max-quarantine-share",
        help="Fail (and write nothing) when a table has more than this share of its rows "
        "quarantined.",
    ),
]
ForceOpt = Annotated[
    bool,
    typer.Option(
        "--force",
        help="Replace an existing --out folder that is not an earlier ingest output "
        "(never the source).",
    ),
]


def ingest(
    src: SrcArg,
    out: OutOpt,
    mapping: MapOpt = None,
    circles: CirclesOpt = None,
    memory_limit: MemoryOpt = "auto",
    max_quarantine_share: ShareOpt = DEFAULT_MAX_QUARANTINE_SHARE,
    force: ForceOpt = False,
    engine: EngineOpt = "local",
    master: MasterOpt = None,
) -> None:
    """Validate source tables against the data contract; quarantine bad rows with a reason."""
    try:
        check_engine(engine, master)
        # The mapping file is an input too: the output must not swallow it.
        claim_ingest_output(out, inputs={"--map file": mapping}, force=force)
        column_map = ColumnMap.from_toml(mapping) if mapping is not None else None
        if engine == "spark":
            from recsys.spark.ingest import spark_ingest

            report = spark_ingest(
                start_spark(master, "recsys ingest"), src, out, column_map=column_map,
                circles_path=circles, max_quarantine_share=max_quarantine_share, force=force,
            )
        else:
            report = run_ingest(
                src,
                out,
                column_map=column_map,
                circles_path=circles,
                memory_limit=memory_limit,
                max_quarantine_share=max_quarantine_share,
                force=force,
            )
    except RecsysError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=1) from None
    typer.echo(report.format_table())
    typer.echo(f"wrote {out}")
