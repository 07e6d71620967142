from __future__ import annotations

from fastapi.testclient import TestClient

from serving.app import create_app
from serving.settings import Settings


def test_health_and_circles_without_a_bundle(tmp_path) -> None:
    app = create_app(Settings(models_dir=tmp_path / "models"))
    with TestClient(app) as client:
        health = client.get("/health").json()
        assert health == {"status": "ok", "promoted_version": None, "n_circles": 21}
        circles = client.get("/circles").json()
        assert len(circles) == 21
        assert circles[0]["circle_id"] == "beauty"
        assert circles[0]["name_zh"] == "美妆护肤"
