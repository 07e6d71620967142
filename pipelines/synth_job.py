"""`recsys synth --users N --items M --seed S --out DIR`: synthetic data with planted truth.

Writes the contract tables to DIR/<table>/part-*.parquet and the planted truth to DIR/truth/
(see docs/synth.md for every knob; the defaults are frozen).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from recsys.config import load_config
from recsys.errors import RecsysError

OutOpt = Annotated[
    Path,
    typer.Option(
        "--out",
        help="Output folder (replaced atomically): new, empty or an earlier synth output.",
    ),
]
UsersOpt = Annotated[int | None, typer.Option("--users", help="Number of users (default 10000).")]
ItemsOpt = Annotated[
    int | None, typer.Option("--items", help="Number of items (default: users / 10, at least 50).")
]
SeedOpt = Annotated[int | None, typer.Option("--seed", help="Root seed (default 0).")]
EventsOpt = Annotated[
    float | None, typer.Option("--events-per-user", help="Mean events per user (default 10).")
]
NoiseOpt = Annotated[
    float | None, typer.Option("--noise-share", help="Share of off-interest actions (default 0.2).")
]
ChunkOpt = Annotated[
    int | None,
    typer.Option(
        "--chunk-users",
        help="Users per chunk and part file (default 100000).",
    ),
]
ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", help="TOML file of SynthConfig knobs; the options above win."),
]
CirclesOpt = Annotated[
    Path | None,
    typer.Option(
        "--circles",
        help="Circle catalogue TOML (default data/circles.toml).",
    ),
]
ProgressOpt = Annotated[bool, typer.Option("--progress/--no-progress", help="Progress bar.")]
ForceOpt = Annotated[
    bool,
    typer.Option(
        "--force",
        help="Replace an existing --out folder that is not an earlier synth output "
        "(never one holding --config or --circles).",
    ),
]


def synth(
    out: OutOpt,
    users: UsersOpt = None,
    items: ItemsOpt = None,
    seed: SeedOpt = None,
    events_per_user: EventsOpt = None,
    noise_share: NoiseOpt = None,
    chunk_users: ChunkOpt = None,
    config: ConfigOpt = None,
    circles: CirclesOpt = None,
    progress: ProgressOpt = True,
    force: ForceOpt = False,
) -> None:
    """Generate platform-like data with planted truth.

    Writes the contract tables (users ... social_edges) and OUT/truth/ (planted interests)."""
    from recsys.circles import load_catalogue
    from recsys.synth import SynthConfig, generate

    try:
        cfg = load_config(
            SynthConfig,
            config,
            n_users=users,
            n_items=items,
            seed=seed,
            events_per_user=events_per_user,
            noise_share=noise_share,
            chunk_users=chunk_users,
            progress=progress,
        )
        catalogue = load_catalogue(circles) if circles is not None else None
        inputs = {"--config file": config, "--circles file": circles}
        counts = generate(cfg, out, catalogue, force=force, inputs=inputs)
    except RecsysError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"wrote {out}")
    width = max(len(name) for name in counts)
    for name, n in counts.items():
        typer.echo(f"  {name:<{width}}  {n:>12,}")
