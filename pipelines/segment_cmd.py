"""`recsys segment REQUEST.json --merchant M --out FILE.parquet|csv`: export an audience segment.

Runs the library's `Segmenter` over the promoted bundle (or `--bundle`) under the merchant's
scope, the rules of `POST /v1/segments` (docs/segments.md), with a progress bar over the user
pass. `--out` is guarded: an existing file is replaced only when this command wrote it (a hidden
marker beside it says so) or with `--force`.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import typer
from pydantic import ValidationError
from tqdm import tqdm

from recsys.bundle.registry import ModelRegistry
from recsys.config import describe_errors
from recsys.errors import ConfigError
from recsys.runtime import RuntimeModel
from recsys.segments import Scope, SegmentConfig, Segmenter, SegmentRequest
from recsys.segments.export import FORMATS, write_segment

logger = logging.getLogger("recsys.segment")

COMMAND = "recsys segment"


def marker_of(out: Path) -> Path:
    """The hidden file beside `out` that records this command wrote it."""
    return out.with_name(f".{out.name}.recsys-output")


def check_out(out: Path, force: bool) -> None:
    if out.suffix.lower() not in FORMATS:
        raise ConfigError(f"--out {out}: expected a file ending in {' or '.join(FORMATS)}")
    if out.is_dir():
        raise ConfigError(f"--out {out}: is a folder; expected a file")
    if out.exists() and not marker_of(out).is_file() and not force:
        raise ConfigError(
            f"--out {out}: exists and was not written by {COMMAND}; pass --force to replace it"
        )


def read_request(path: Path) -> SegmentRequest:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: request file not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid JSON: {exc}") from None
    try:
        return SegmentRequest.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(
            f"{path}: invalid request: {describe_errors(SegmentRequest, exc)}"
        ) from None


def bundle_path(models_dir: Path, bundle: str | None) -> Path:
    version = bundle or ModelRegistry(models_dir).promoted()
    if version is None:
        raise ConfigError(f"{models_dir}: no bundle is promoted; pass --bundle VERSION")
    return models_dir / version


def segment(
    request: Path = typer.Argument(..., help='JSON request: {"target": {"kind", "ids"}, ...}.'),
    merchant: str = typer.Option(..., "--merchant", help="Merchant id whose scope applies."),
    out: Path = typer.Option(..., "--out", help="Output file, .parquet or .csv."),
    models_dir: Path = typer.Option(Path("models"), "--models-dir", help="Where bundles live."),
    bundle: str = typer.Option(None, "--bundle", help="Bundle version (default: the promoted)."),
    floor: int = typer.Option(100, "--floor", min=1, help="Refuse segments smaller than this."),
    force: bool = typer.Option(
        False, "--force", help="Replace an --out this command did not write."
    ),
) -> None:
    """Rank an audience for a merchant's target and write user ids and scores to a file."""
    check_out(out, force)
    parsed = read_request(request)
    model = RuntimeModel.load(bundle_path(models_dir, bundle))
    segmenter = Segmenter(model.parts, model.version, SegmentConfig(floor=floor))
    segmenter.resolve(parsed, Scope(merchant))  # a scope refusal before any bar or work
    with tqdm(total=segmenter.work(parsed), unit=" users", desc="segment") as bar:
        result = segmenter.build(parsed, Scope(merchant), progress=bar.update)
        bar.update(bar.total - bar.n)  # a pass the answer did not need (no back-test) is done
    marker_of(out).write_text(json.dumps({"command": COMMAND}) + "\n", encoding="utf-8")
    write_segment(result, out)
    typer.echo(
        f"{len(result)} users of {result.eligible} eligible -> {out} (model {model.version})"
    )
    reach = result.reach
    if reach.curve:
        estimated = f"; estimated from {reach.sampled:,} sampled users" if reach.sampled else ""
        typer.echo(f"back-tested reach (cut {reach.cut}, {reach.days:g} days after{estimated}):")
        for p in reach.curve:
            typer.echo(
                f"  top {p.size:>9,}: {p.buyers:>7,} buyers  precision {p.precision:.4f}  "
                f"recall {p.recall:.4f}"
            )
    else:
        typer.echo(f"no back-tested reach: {reach.reason}")
