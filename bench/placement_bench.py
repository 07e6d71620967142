"""Benchmark circle placement at platform scale: fit + predict + members for N users.

Inputs are pipeline-shaped synthetic arrays (the four float32 CSR engagement kinds over 21
circles, with the synthetic generator's per-user volumes: ~10 events and ~1 post a user,
lognormal activity, 10% of users posting >= 3 times; 64 float32 ALS-like factors; ~8 friends a
user, 70% sharing the user's top circle), drawn vectorised so the benchmark times placement,
not data generation. Times the placer without and with friends; writes its section of
`bench/results/placement.md` (quality figures come from `bench/placement_quality.py`).

    python bench/placement_bench.py --users 1000000
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from recsys.placement import CirclePlacer, friend_matrix

RESULTS = Path(__file__).resolve().parent / "results"
# kind -> (mean count a user, share ignoring interests), close to the generator's volumes.
KINDS = {"item_events": (6.0, 0.2), "purchases": (0.8, 0.2), "posts_engaged": (0.5, 0.0)}


def make_inputs(
    n_users: int, n_circles: int = 21, n_factors: int = 64, seed: int = 0
) -> tuple[dict[str, sp.csr_matrix], np.ndarray, sp.csr_matrix]:
    rng = np.random.default_rng(seed)
    weights = rng.dirichlet(np.full(n_circles, 0.3), size=n_users)
    activity = rng.lognormal(-0.5, 1.0, size=n_users)
    uniform = np.full(n_circles, 1.0 / n_circles)
    engagement = {}
    for kind, (rate, noise) in KINDS.items():
        p = (1 - noise) * weights + noise * uniform
        n = rng.poisson(rate * activity)
        engagement[kind] = sp.csr_matrix(rng.multinomial(n, p).astype(np.float32))
    posting = rng.lognormal(-1.1, 1.5, size=n_users)
    engagement["posts_written"] = sp.csr_matrix(
        rng.multinomial(rng.poisson(posting), weights).astype(np.float32)
    )
    factors = weights @ rng.normal(size=(n_circles, n_factors))
    factors += rng.normal(scale=0.3, size=factors.shape)
    src = np.repeat(np.arange(n_users), rng.poisson(4.0, n_users))
    top = weights.argmax(axis=1)
    by_top = np.argsort(top, kind="stable")
    start = np.searchsorted(top[by_top], top[src])
    size = np.bincount(top, minlength=n_circles)[top[src]]
    alike = by_top[start + (rng.random(len(src)) * size).astype(np.int64)]
    dst = np.where(rng.random(len(src)) < 0.7, alike, rng.integers(0, n_users, len(src)))
    return engagement, factors.astype(np.float32), friend_matrix(src, dst, n_users)


def run(
    engagement: dict[str, sp.csr_matrix],
    factors: np.ndarray,
    friends: sp.csr_matrix | None,
    seed: int,
) -> dict[str, float]:
    """Seconds of fit, predict_proba and members_from_proba, and mean members."""
    start = time.perf_counter()
    placer = CirclePlacer(random_state=seed).fit(engagement, factors, friends)
    t_fit = time.perf_counter() - start
    start = time.perf_counter()
    proba = placer.predict_proba(engagement, factors, friends)
    t_predict = time.perf_counter() - start
    start = time.perf_counter()
    members = placer.members_from_proba(proba, engagement)
    t_members = time.perf_counter() - start
    return {"fit": t_fit, "predict": t_predict, "members": t_members,
            "mean_members": float(members.sum(axis=1).mean())}  # fmt: skip


def write_section(text: str, begin: str, end: str) -> None:
    """Replace the block between `begin` and `end` in the report, or put it first."""
    report = RESULTS / "placement.md"
    old = report.read_text() if report.exists() else "# Circle placement\n"
    if begin in old and end in old:
        head, rest = old.split(begin, 1)
        new = head + text + rest.split(end, 1)[1]
    else:
        title, _, body = old.partition("\n")
        new = f"{title}\n\n{text}\n{body}"
    report.write_text(new)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    load_before = os.getloadavg()
    start = time.perf_counter()
    engagement, factors, friends = make_inputs(args.users, seed=args.seed)
    t_data = time.perf_counter() - start
    labelled = int((np.asarray(engagement["posts_written"].sum(axis=1)).ravel() >= 3).sum())
    print(f"inputs: {args.users} users, {labelled} with >= 3 posts, {friends.nnz // 2} "
          f"friendships, {t_data:.1f}s", flush=True)  # fmt: skip
    times = {}
    for name, graph in (("without friends", None), ("with friends", friends)):
        times[name] = run(engagement, factors, graph, args.seed)
        t = times[name]
        print(f"{name}: fit {t['fit']:.1f}s, predict {t['predict']:.1f}s, members "
              f"{t['members']:.1f}s", flush=True)  # fmt: skip
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024
    load_after = os.getloadavg()
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")), platform.processor(),
    )  # fmt: skip
    rows = "\n".join(
        f"| {name} | {t['fit']:.1f} | {t['predict']:.1f} | {t['members']:.1f} | "
        f"{t['fit'] + t['predict'] + t['members']:.1f} | {t['mean_members']:.2f} |"
        for name, t in times.items()
    )
    begin, end = "<!-- placement_bench begin -->", "<!-- placement_bench end -->"
    write_section(
        f"""{begin}
## At scale

`python bench/placement_bench.py --users {args.users} --seed {args.seed}`
(commit {commit}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC). Machine: {os.cpu_count()} cores
({cpu}), shared with other jobs; load average {load_before[0]:.1f} before and
{load_after[0]:.1f} after the run.

Pipeline-shaped synthetic inputs (4 CSR engagement kinds x 21 circles, 64 factors,
{friends.nnz // 2:,} friendships), {labelled:,} users with >= 3 posts (the labelled pool; the
placer samples at most `max_train_users` = {CirclePlacer().max_train_users:,} per fold, x
{CirclePlacer().n_copies} copies). Input generation ({t_data:.1f}s) is not counted.

| placer | fit s | predict_proba s ({args.users:,} x 21) | members s | total s | members/user |
| --- | ---: | ---: | ---: | ---: | ---: |
{rows}

Peak RSS of the process (inputs and both runs included): {peak:.2f} GiB.
{end}""",
        begin,
        end,
    )
    print(f"wrote {RESULTS / 'placement.md'}")


if __name__ == "__main__":
    main()
