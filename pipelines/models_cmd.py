"""`recsys models ...`: list, inspect, verify, promote, roll back and clean up model bundles.

Promotion is guarded by the `[bundle]` section of the training config (guarded metrics and
tolerance); `--tolerance` and `--metric` override it for one call. Every command refuses a
bundle whose manifest is unsigned, mis-signed or of another format version (the key comes from
RECSYS_BUNDLE_KEY or the key file, see docs/training.md).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from recsys.bundle.created import remove_created
from recsys.bundle.manifest import FORMAT_VERSION, flatten_metrics
from recsys.bundle.registry import DEFAULT_GUARDED_METRICS, DEFAULT_TOLERANCE, ModelRegistry
from recsys.bundle.signing import resolve_key
from recsys.bundle.staging import remove_stale_temps
from recsys.config import load_config
from recsys.errors import RecsysError

DEFAULT_CONFIG = Path(__file__).resolve().parent / "configs" / "default.toml"

app = typer.Typer(
    help="Model bundles: list, show, verify, promote (metric-guarded), roll back, clean up.",
    no_args_is_help=True,
)

ModelsDir = typer.Option(Path("models"), "--models-dir", help="Folder holding the bundles.")
DEMO_RECORD = ".demo-created.json"  # pipelines/demo.py writes it; pipelines never import each other
ConfigOpt = typer.Option(
    DEFAULT_CONFIG, "--config", help="Training config whose [bundle] section guards promotion."
)


@contextmanager
def _domain_errors() -> Iterator[None]:
    """Library and file-system errors become one red line on stderr and exit 1, no traceback."""
    try:
        yield
    except (RecsysError, OSError) as exc:
        typer.secho(f"error: {exc}", fg="red", err=True)
        raise typer.Exit(1) from None


def _guard(config: Path) -> tuple[float, tuple[str, ...]]:
    """Tolerance and guarded metrics from the training config (registry defaults without one)."""
    if not config.is_file():
        return DEFAULT_TOLERANCE, DEFAULT_GUARDED_METRICS
    from recsys.recipe import TrainConfig

    bundle = load_config(TrainConfig, config).bundle
    return bundle.promote_tolerance, tuple(bundle.guarded_metrics)


@app.command("list")
def list_(models_dir: Path = ModelsDir, config: Path = ConfigOpt) -> None:
    """One line per complete bundle, oldest first; '*' marks the promoted one."""
    with _domain_errors():
        registry = ModelRegistry(models_dir)
        manifests = registry.versions()
        promoted = registry.promoted()
        _, guarded = _guard(config)
    if not manifests:
        typer.echo(f"no bundles in {models_dir}")
        return
    header = ["", "version", "created (UTC)", "parent", *guarded]
    rows = []
    for m in manifests:
        values = [m.metric(key) for key in guarded]
        rows.append(
            [
                "*" if m.version == promoted else "",
                m.version,
                m.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                m.parent_version or "-",
                *("-" if v is None else f"{v:.4f}" for v in values),
            ]
        )
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        typer.echo("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


@app.command()
def show(
    version: str = typer.Argument(..., help="Bundle version (see `recsys models list`)."),
    models_dir: Path = ModelsDir,
    files: bool = typer.Option(True, "--files/--no-files", help="Include the file checksums."),
    flat: bool = typer.Option(False, "--flat", help="Metrics as dotted keys, one per line."),
) -> None:
    """Print a bundle's manifest."""
    with _domain_errors():
        manifest = ModelRegistry(models_dir).manifest(version)
    if flat:
        for key, value in flatten_metrics(manifest.metrics).items():
            typer.echo(f"{key}\t{value:g}")
        return
    data = json.loads(manifest.model_dump_json())
    if not files:
        data["files"] = f"{len(data['files'])} files (use --files to list)"
    typer.echo(json.dumps(data, indent=2))


@app.command()
def verify(version: str = typer.Argument(...), models_dir: Path = ModelsDir) -> None:
    """Check a bundle's format version, its manifest signature and every file's checksum."""
    with _domain_errors():
        key = resolve_key()
        bundle = ModelRegistry(models_dir).bundle(version, verify=True, key=key)
    typer.echo(
        f"{version}: format version {FORMAT_VERSION}, signature valid (key {key.key_id} from "
        f"{key.source}), {len(bundle.manifest.files)} files verified"
    )


@app.command()
def promote(
    version: str = typer.Argument(..., help="Bundle version to serve."),
    models_dir: Path = ModelsDir,
    config: Path = ConfigOpt,
    force: bool = typer.Option(False, "--force", help="Promote even if guarded metrics regress."),
    tolerance: float | None = typer.Option(
        None, "--tolerance", min=0.0, help="Largest allowed drop of a guarded metric (absolute)."
    ),
    metric: Annotated[
        list[str] | None,
        typer.Option("--metric", help="Guarded metric (dotted key); repeat for several."),
    ] = None,
) -> None:
    """Point serving at VERSION, unless its metrics regress against the promoted bundle."""
    with _domain_errors():
        default_tolerance, guarded = _guard(config)
        registry = ModelRegistry(models_dir)
        previous = registry.promoted()
        registry.promote(
            version,
            force=force,
            tolerance=default_tolerance if tolerance is None else tolerance,
            guarded_metrics=tuple(metric) if metric else guarded,
        )
    typer.echo(f"promoted {version} (was {previous or 'none'})")


@app.command()
def rollback(models_dir: Path = ModelsDir) -> None:
    """Point serving back at the previously promoted bundle."""
    with _domain_errors():
        registry = ModelRegistry(models_dir)
        previous = registry.promoted()
        version = registry.rollback()
    typer.echo(f"rolled back to {version} (was {previous})")


@app.command("remove-created")
def remove_created_cmd(
    models_dir: Path = ModelsDir,
    record: Path | None = typer.Option(
        None, "--record", help="Record of what a job created (default: the demo's)."
    ),
) -> None:
    """Remove exactly what a job recorded creating, repair PROMOTED, drop stale temp folders.

    `recsys demo` records its data, report and bundle folders in MODELS_DIR/.demo-created.json;
    `make clean` calls this. Nothing the job did not create is touched.
    """
    record = record or models_dir / DEMO_RECORD
    had_record = record.is_file()
    with _domain_errors():
        removed = remove_created(record)
        removed += [f"stale temp {p.name}" for p in remove_stale_temps(models_dir)]
        promoted = ModelRegistry(models_dir).promoted()
    if not had_record and not removed:
        typer.echo(f"nothing to remove (no record at {record}, no stale temp folder)")
        return
    for what in removed:
        typer.echo(f"removed {what}")
    typer.echo(f"promoted: {promoted or 'none'}")
