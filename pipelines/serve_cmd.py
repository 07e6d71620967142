"""`recsys serve`: run the HTTP API (serving.app) under uvicorn until interrupted.

The command owns the process options (host, port, workers); what the app itself reads it hands
over as RECSYS_ variables, since each worker process builds its settings from its environment.
With several workers every worker loads the promoted bundle and follows PROMOTED on its own;
their metrics meet in a fresh PROMETHEUS_MULTIPROC_DIR that the command removes at exit.

`make serve` passes `--keys-file .recsys/api-keys.json --create-key --examples`: a local service
key is made once (git-ignored) and printed with example calls.
"""

from __future__ import annotations

import copy
import json
import os
import secrets
import shutil
import tempfile
from pathlib import Path
from typing import Any

import typer

from recsys.bundle.registry import ModelRegistry
from recsys.errors import ConfigError, RecsysError
from recsys.runtime import PolicyStep, RuntimeModel

APP = "serving.app:create_app"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
#: Thread-count variables read by BLAS/OpenMP libraries when a worker process loads them.
THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
#: Seconds a worker may take to answer uvicorn's health ping. A spawned worker first re-imports
#: the whole command line (numpy, scipy, faiss...) before it can answer; uvicorn's 5 s default
#: kills and restarts workers forever on a busy machine.
WORKER_HEALTHCHECK_TIMEOUT = 60
#: Users tried when looking for one the scorer answers, for the printed examples.
EXAMPLE_CANDIDATES = 200


def serve(
    host: str = typer.Option("127.0.0.1", envvar="RECSYS_HOST", help="Interface to bind."),
    port: int = typer.Option(8000, envvar="RECSYS_PORT", min=0, max=65535, help="Port."),
    workers: int = typer.Option(
        1, envvar="RECSYS_WORKERS", min=1, help="Worker processes (each loads the bundle)."
    ),
    models_dir: Path = typer.Option(
        Path("models"), envvar="RECSYS_MODELS_DIR", help="Folder of the bundles (PROMOTED)."
    ),
    blas_threads: int = typer.Option(
        1, envvar="RECSYS_BLAS_THREADS", min=1, help="BLAS/OpenMP threads per model call."
    ),
    keys_file: Path | None = typer.Option(
        None,
        envvar="RECSYS_API_KEYS_FILE",
        help="JSON object API key -> role, added to RECSYS_API_KEYS.",
    ),
    create_key: bool = typer.Option(
        False, help="Create --keys-file with one new service key when it does not exist."
    ),
    examples: bool = typer.Option(False, help="Print example curl calls with a service key."),
) -> None:
    """Run the HTTP API until interrupted (Ctrl-C)."""
    import uvicorn

    keys = _keys(keys_file, create=create_key)
    os.environ["RECSYS_API_KEYS"] = json.dumps(keys)
    os.environ["RECSYS_MODELS_DIR"] = str(models_dir.resolve())
    os.environ["RECSYS_BLAS_THREADS"] = str(blas_threads)
    for name in THREAD_ENV:
        os.environ.setdefault(name, str(blas_threads))
    if examples:
        _print_examples(host, port, _service_key(keys, keys_file), models_dir)
    metrics_dir, made = _metrics_dir()
    try:
        uvicorn.run(
            APP,
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_config=_log_config(),
            timeout_worker_healthcheck=WORKER_HEALTHCHECK_TIMEOUT,
        )
    finally:
        if made:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def _log_config() -> dict[str, Any]:
    """uvicorn's logging, extended to the app's and the library's loggers in every worker."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    for name in ("serving", "recsys"):
        config["loggers"][name] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config


def _keys(keys_file: Path | None, *, create: bool) -> dict[str, str]:
    """RECSYS_API_KEYS merged with the keys file (made with one service key if asked)."""
    keys = _json_object(os.environ.get("RECSYS_API_KEYS", "") or "{}", "RECSYS_API_KEYS")
    if keys_file is None:
        if create:
            raise ConfigError("--create-key needs --keys-file")
        return keys
    if not keys_file.exists():
        if not create:
            raise ConfigError(f"{keys_file}: no such keys file (--create-key makes one)")
        keys_file.parent.mkdir(parents=True, exist_ok=True)
        keys_file.write_text(json.dumps({secrets.token_urlsafe(32): "service"}, indent=2) + "\n")
        keys_file.chmod(0o600)
        typer.echo(f"created {keys_file} with one service key")
    keys.update(_json_object(keys_file.read_text(encoding="utf-8"), str(keys_file)))
    return keys


def _json_object(text: str, source: str) -> dict[str, str]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{source}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise ConfigError(
            f'{source}: expected a JSON object of key -> role, e.g. {{"<key>": "service"}}'
        )
    return data


def _metrics_dir() -> tuple[Path, bool]:
    """The folder where workers write metrics: the caller's, or a fresh one we remove after."""
    given = os.environ.get(MULTIPROC_ENV)
    if given:
        return Path(given), False
    path = Path(tempfile.mkdtemp(prefix="recsys-metrics-"))
    os.environ[MULTIPROC_ENV] = str(path)
    return path, True


def _service_key(keys: dict[str, str], keys_file: Path | None) -> str | None:
    """A service key for the examples: the key file's (the one `make serve` made) first."""
    own = _json_object(keys_file.read_text(encoding="utf-8"), str(keys_file)) if keys_file else {}
    for source in (own, keys):
        for key, role in source.items():
            if role == "service":
                return key
    return None


def _print_examples(host: str, port: int, key: str | None, models_dir: Path) -> None:
    if key is None:
        typer.echo("no service key configured: /v1 calls will answer 401")
        return
    user, item, share = _example_ids(models_dir)
    base = f"http://{host}:{port}"
    header = f'-H "X-API-Key: {key}"'
    typer.secho(f"\nservice key: {key}", bold=True)
    typer.echo("example calls:")
    for path in (
        f"/v1/users/{user}/recommendations?limit=5",
        f"/v1/users/{user}/circles",
        f"/v1/items/{item}/similar?limit=5",
        "/v1/circles",
    ):
        typer.echo(f"  curl -s {header} '{base}{path}'")
    if share is not None:
        body = json.dumps({"user_id": share[0], "item_id": share[1], "target_size": 3, "limit": 5})
        typer.echo(f"  curl -s {header} -H 'Content-Type: application/json' -d '{body}' "
                   f"'{base}/v1/share-targets'")  # fmt: skip
    typer.echo(f"  curl -s {base}/readyz    curl -s {base}/metrics    open {base}/docs\n")


def _example_ids(models_dir: Path) -> tuple[str, str, tuple[str, str] | None]:
    """A user the scorer answers and an item of theirs, from the promoted bundle; and, when it
    has share targeting, the user who started the most group buys and their latest item."""
    registry = ModelRegistry(models_dir)
    version = registry.promoted()
    if version is None:
        return "<user_id>", "<item_id>", None
    try:
        model = RuntimeModel.load(models_dir / version, verify=False)
    except RecsysError as exc:
        typer.secho(
            f"the promoted bundle cannot be served: {exc}\n"
            "(train and promote a new one: `make demo`, or `recsys train` + `recsys models "
            "promote`; the server answers 503 until then)",
            fg="yellow",
        )
        return "<user_id>", "<item_id>", None
    share = None
    if model.parts.share is not None:
        groups = model.parts.posts_groups.group_facts.to_pandas()
        starter = groups["initiator_id"].value_counts().index[0]
        latest = groups[groups["initiator_id"] == starter].sort_values("created_ts").iloc[-1]
        share = (str(starter), str(latest["item_id"]))
    for user in model.parts.ids.users.ids[:EXAMPLE_CANDIDATES]:
        answer = model.recommend(str(user), 1)
        if answer.step is PolicyStep.SCORER and answer.items:
            return str(user), answer.items[0].item_id, share
    return str(model.parts.ids.users.ids[0]), str(model.parts.ids.items.ids[0]), share
