"""The report refuses counts that do not reconcile and survives a JSON round trip."""

from __future__ import annotations

import pytest

from recsys.errors import ContractError
from recsys.ingest import IngestReport, TableReport


def _report(**overrides) -> TableReport:
    fields = dict(
        table="events",
        status="ingested",
        sources=("events.csv",),
        read=10,
        accepted=7,
        quarantined=3,
        reasons={"ts: not a timestamp": 2, "type: not one of view": 1},
    )
    fields.update(overrides)
    return TableReport(**fields)


def test_check_accepts_reconciled_counts():
    _report().check()


@pytest.mark.parametrize(
    "overrides",
    [{"read": 11}, {"accepted": 8}, {"reasons": {"ts: not a timestamp": 2}}],
    ids=["lost-row", "extra-row", "reasons-short"],
)
def test_check_refuses_counts_that_do_not_add_up(overrides):
    with pytest.raises(ContractError, match="events"):
        _report(**overrides).check()


def test_round_trip_and_top_reasons(tmp_path):
    report = IngestReport(
        tables={"events": _report(), "posts": TableReport("posts", "missing")}, ignored=("truth",)
    )
    path = tmp_path / "ingest_report.json"
    report.write(path)
    loaded = IngestReport.load(path)
    assert loaded == report
    assert loaded.missing == ["posts"]
    assert loaded["events"].top_reasons(1) == [("ts: not a timestamp", 2)]


def test_unreadable_report(tmp_path):
    path = tmp_path / "ingest_report.json"
    path.write_text("{", encoding="utf-8")
    with pytest.raises(ContractError, match="not a readable ingest report"):
        IngestReport.load(path)


def test_format_table_lists_counts_top_reasons_and_ignored_entries():
    report = IngestReport(
        tables={"events": _report(), "posts": TableReport("posts", "missing")}, ignored=("truth",)
    )
    lines = report.format_table(top=1).splitlines()
    assert lines[0].split() == ["table", "read", "accepted", "quarantined", "source"]
    assert lines[1].split() == ["events", "10", "7", "3", "events.csv"]
    assert lines[2].split() == ["2", "ts:", "not", "a", "timestamp"]  # top 1 of 2 reasons
    assert lines[3].split() == ["posts", "0", "0", "0", "(missing)"]
    assert lines[4] == "ignored (not contract tables): truth"
    assert len(lines) == 5
