"""Serving fixtures: two small real bundles (trained with different seeds), keys, apps, servers.

The bundles are trained once per session from a few hundred synthetic users (the first is the
session's `small_bundle`); each test gets its own models folder holding copies of them, so a
test can promote, corrupt or delete freely.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient

from recsys.bundle.registry import POINTER, ModelRegistry
from recsys.datastore import DataDir
from recsys.idmap import IdMap
from recsys.recipe import TrainConfig
from recsys.runtime import RuntimeModel
from recsys.training.run import run_training
from serving.app import create_app
from serving.schemas.circles import CatalogueOut, UserCirclesOut
from serving.schemas.items import RecommendationsOut, SimilarItemsOut
from serving.settings import Settings
from tests.conftest import RANKED_FAST

SERVICE_KEY = "svc-" + secrets.token_urlsafe(16)
ADMIN_KEY = "adm-" + secrets.token_urlsafe(16)
MERCHANT_KEY = "mer-" + secrets.token_urlsafe(16)
KEYS = {SERVICE_KEY: "service", ADMIN_KEY: "admin", MERCHANT_KEY: "merchant:m001"}


@dataclass(frozen=True)
class Trained:
    """Two bundles of the same data, trained with different seeds, and ids to ask about."""

    first: Path
    second: Path
    users: list[str]
    items: list[str]


@pytest.fixture(scope="session")
def trained(small_bundle, tmp_path_factory) -> Trained:
    """The session's small bundle and a second one trained on its data with another seed."""
    data_dir = small_bundle["data"]
    config = TrainConfig.model_validate({"seed": 3, "content": {"evaluate_cold_start": False},
                                         "ranked": RANKED_FAST})
    second = run_training(data_dir, config, models_dir=tmp_path_factory.mktemp("second-seed"))
    data = DataDir(data_dir)
    users = IdMap.load(data.idmap_path("users")).ids
    items = IdMap.load(data.idmap_path("items")).ids
    rng = np.random.default_rng(0)
    return Trained(
        first=small_bundle["bundle"],
        second=second,
        users=[str(u) for u in rng.choice(users, size=8, replace=False)],
        items=[str(i) for i in rng.choice(items, size=6, replace=False)],
    )


def models_with(tmp_path: Path, *bundles: Path, promote: Path | None = None) -> Path:
    """A fresh models folder with copies of `bundles`, `promote` (one of them) promoted."""
    models = tmp_path / "models"
    models.mkdir(exist_ok=True)
    for bundle in bundles:
        shutil.copytree(bundle, models / bundle.name)
    if promote is not None:
        ModelRegistry(models).promote(promote.name, force=True)
    return models


def write_pointer(models: Path, version: str) -> None:
    """Point PROMOTED at `version` directly (as a hand edit or a torn deploy would)."""
    tmp = models / f".{POINTER}.tmp-test"
    tmp.write_text(version + "\n")
    os.replace(tmp, models / POINTER)


def corrupt(bundle: Path) -> None:
    """Flip bytes in the bundle's largest array so its checksum no longer matches."""
    target = max(bundle.rglob("*.npy"), key=lambda p: p.stat().st_size)
    data = bytearray(target.read_bytes())
    data[-8:] = bytes(b ^ 0xFF for b in data[-8:])
    target.write_bytes(bytes(data))


def settings(models: Path, **overrides: object) -> Settings:
    return Settings(**{"models_dir": models, "api_keys": KEYS, **overrides})


@pytest.fixture
def client_for() -> Iterator:
    """client_for(models, **settings) -> a started TestClient (closed after the test)."""
    opened: list[TestClient] = []

    def make(models: Path, **overrides: object) -> TestClient:
        client = TestClient(create_app(settings(models, **overrides)))
        client.__enter__()
        opened.append(client)
        return client

    yield make
    for client in opened:
        client.__exit__(None, None, None)


def auth(key: str = SERVICE_KEY) -> dict[str, str]:
    return {"X-API-Key": key}


# -- a real server in a subprocess ---------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """`recsys serve` on a loopback port, stopped (and reaped) by `stop`."""

    def __init__(
        self,
        models: Path,
        *,
        workers: int,
        poll_interval: float,
        log: Path,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "RECSYS_API_KEYS": json.dumps(KEYS),
            "RECSYS_POLL_INTERVAL": str(poll_interval),
        }
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        recsys = Path(sys.executable).parent / "recsys"
        self._log = log.open("w")
        self.process = subprocess.Popen(
            [
                str(recsys),
                "serve",
                "--port",
                str(self.port),
                "--workers",
                str(workers),
                "--models-dir",
                str(models),
                *extra_args,
            ],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.log = log

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited: {self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"server not ready in {timeout}s: {self.log.read_text()[-3000:]}")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._log.close()
        return self.process.returncode


@pytest.fixture
def server_for(tmp_path) -> Iterator:
    """server_for(models, workers=1, poll_interval=0.2) -> a ready Server (stopped after)."""
    started: list[Server] = []

    def start(
        models: Path, *, workers: int = 1, poll_interval: float = 0.2, extra_args: tuple = ()
    ) -> Server:
        server = Server(
            models,
            workers=workers,
            poll_interval=poll_interval,
            log=tmp_path / f"server-{len(started)}.log",
            extra_args=extra_args,
        )
        started.append(server)
        server.wait_ready()
        return server

    yield start
    for server in started:
        server.stop()


# -- what the API must answer: the in-process answer of the same model --------------------------


def in_process(model: RuntimeModel, path: str) -> dict:
    """The JSON body the API must give for `path` (a /v1 GET) when serving `model`."""
    url = httpx.URL(path)
    parts = url.path.strip("/").split("/")
    limit = int(url.params.get("limit", 10))
    match parts:
        case ["v1", "users", user, "recommendations"]:
            body = RecommendationsOut.model_validate(model.recommend(user, limit))
        case ["v1", "users", user, "circles"]:
            body = UserCirclesOut.model_validate(model.user_circles(user))
        case ["v1", "items", item, "similar"]:
            body = SimilarItemsOut.model_validate(model.similar_items(item, limit))
        case ["v1", "circles"]:
            body = CatalogueOut.from_catalogue(model.catalogue, model.version)
        case _:
            raise ValueError(f"no in-process answer for {path}")
    return json.loads(body.model_dump_json())
