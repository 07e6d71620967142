"""`recsys serve`: its key handling fails with one line, and the local key file is made once."""

from __future__ import annotations

import json
import stat

from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.serve_cmd import _keys

runner = CliRunner()


def test_a_missing_keys_file_is_one_line_naming_it(tmp_path) -> None:
    missing = tmp_path / "keys.json"
    result = runner.invoke(app, ["serve", "--keys-file", str(missing)], env={"RECSYS_API_KEYS": ""})
    assert result.exit_code == 1
    assert result.output.strip() == f"error: {missing}: no such keys file (--create-key makes one)"


def test_keys_that_are_not_a_json_object_are_one_line(tmp_path) -> None:
    for value, expected in (
        ("{service", "RECSYS_API_KEYS: not valid JSON"),
        ('["k"]', "RECSYS_API_KEYS: expected a JSON object of key -> role"),
    ):
        result = runner.invoke(app, ["serve"], env={"RECSYS_API_KEYS": value})
        assert result.exit_code == 1, value
        assert len(result.output.strip().splitlines()) == 1
        assert expected in result.output


def test_create_key_makes_one_private_service_key_once(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("RECSYS_API_KEYS", json.dumps({"x" * 20: "admin"}))
    path = tmp_path / ".recsys" / "api-keys.json"
    first = _keys(path, create=True)
    made = json.loads(path.read_text())
    ((key, role),) = made.items()
    assert role == "service" and len(key) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert first == {"x" * 20: "admin", key: "service"}
    assert _keys(path, create=True) == first, "an existing key file is never replaced"
    assert json.loads(path.read_text()) == made
