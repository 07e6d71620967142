"""`recsys demo` step 2 prints the same read / accepted / quarantined table as `recsys ingest`."""

from __future__ import annotations

from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.demo import ingest_sample
from tests.ingest.conftest import append_rows, copy_valid


def test_demo_ingest_step_prints_the_ingest_table(tmp_path, capsys):
    src = copy_valid(tmp_path / "src")
    # 12 more good events, so the one quarantined row stays under the 5% ingest allows
    good = [f"e{n},u1,i1,,view,,feed,2024-03-05T09:{n:02d}:00Z" for n in range(10, 22)]
    append_rows(src, "events", [*good, "e9,u9,i1,,view,,feed,2024-03-05T09:00:00Z"])

    cli = CliRunner().invoke(app, ["ingest", str(src), "--out", str(tmp_path / "cli")])
    report = ingest_sample(src, tmp_path / "demo")
    printed = capsys.readouterr().out

    assert cli.exit_code == 0, cli.output
    assert printed == report.format_table() + "\n"
    assert cli.stdout.startswith(printed)
    assert printed.splitlines()[0].split() == ["table", "read", "accepted", "quarantined", "source"]
    assert "user_id: unknown user_id: no accepted row in users" in printed


def test_demo_prints_a_merchants_segment_with_its_reach(small_bundle, capsys):
    from pipelines.demo import _print_segment
    from recsys.runtime import RuntimeModel

    _print_segment(RuntimeModel.load(small_bundle["bundle"]))
    printed = capsys.readouterr().out
    assert printed.startswith("merchant ") and "100 of " in printed
    assert "back-tested reach (ranked at the cut" in printed or "no back-tested reach:" in printed
