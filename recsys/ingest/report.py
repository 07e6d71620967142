"""What an ingestion run did, per table: read = accepted + quarantined, and why rows were rejected.

The report is written to `DataDir.report_path` as JSON. It holds no timings or absolute paths of
the run, so re-running on the same input gives a byte-identical report (timings go to the log).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from recsys.errors import ContractError

INGESTED = "ingested"
MISSING = "missing"
#: A table the source did not have, built from the other tables (users from the ids they name).
DERIVED = "derived"


@dataclass(frozen=True)
class TableReport:
    """Counts for one contract table; `reasons` maps "field: reason" to a row count.

    `sources` are file names relative to SRC, or for a derived table the `table.column`s it was
    derived from.
    """

    table: str
    status: str
    sources: tuple[str, ...] = ()
    read: int = 0
    accepted: int = 0
    quarantined: int = 0
    reasons: dict[str, int] = field(default_factory=dict)

    def check(self) -> None:
        """Raise ContractError unless every read row was accepted or quarantined."""
        if self.read != self.accepted + self.quarantined:
            raise ContractError(
                f"{self.table}: read {self.read} != accepted {self.accepted} + quarantined "
                f"{self.quarantined}; rows were lost"
            )
        if sum(self.reasons.values()) != self.quarantined:
            raise ContractError(
                f"{self.table}: reasons account for {sum(self.reasons.values())} rows, "
                f"but {self.quarantined} were quarantined"
            )

    def top_reasons(self, n: int = 3) -> list[tuple[str, int]]:
        return sorted(self.reasons.items(), key=lambda kv: (-kv[1], kv[0]))[:n]

    @property
    def source_text(self) -> str:
        if self.status == DERIVED:
            return f"(derived from {', '.join(self.sources)})"
        return ", ".join(self.sources) if self.sources else f"({self.status})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "sources": list(self.sources),
            "read": self.read,
            "accepted": self.accepted,
            "quarantined": self.quarantined,
            "reasons": dict(self.top_reasons(len(self.reasons))),
        }

    @classmethod
    def from_dict(cls, table: str, data: dict[str, Any]) -> TableReport:
        return cls(
            table=table,
            status=data["status"],
            sources=tuple(data["sources"]),
            read=int(data["read"]),
            accepted=int(data["accepted"]),
            quarantined=int(data["quarantined"]),
            reasons={str(k): int(v) for k, v in data["reasons"].items()},
        )


@dataclass(frozen=True)
class IngestReport:
    """Per-table reports in contract order, the source entries that were not tables, and
    whether `ts` is a real time, an order or nothing (`time_kind`, see docs/ingest.md)."""

    tables: dict[str, TableReport]
    ignored: tuple[str, ...] = ()
    time_kind: str | None = None

    def __getitem__(self, table: str) -> TableReport:
        return self.tables[table]

    def check(self) -> None:
        for report in self.tables.values():
            report.check()

    @property
    def missing(self) -> list[str]:
        return [name for name, r in self.tables.items() if r.status == MISSING]

    @property
    def derived(self) -> list[str]:
        return [name for name, r in self.tables.items() if r.status == DERIVED]

    @property
    def total_quarantined(self) -> int:
        return sum(r.quarantined for r in self.tables.values())

    def format_table(self, top: int = 3) -> str:
        """A plain-text table of read / accepted / quarantined per table and the top reasons."""
        lines = [f"{'table':<14}{'read':>12}{'accepted':>12}{'quarantined':>13}  source"]
        for name, t in self.tables.items():
            source = t.source_text
            lines.append(f"{name:<14}{t.read:>12,}{t.accepted:>12,}{t.quarantined:>13,}  {source}")
            for reason, count in t.top_reasons(top):
                lines.append(f"{'':<14}{count:>12,}  {reason}")
        if self.ignored:
            lines.append("ignored (not contract tables): " + ", ".join(self.ignored))
        if self.time_kind is not None:
            lines.append(f"time_kind: {self.time_kind}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "tables": {name: r.to_dict() for name, r in self.tables.items()},
            "missing": self.missing,
            "derived": self.derived,
            "ignored": list(self.ignored),
            "time_kind": self.time_kind,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IngestReport:
        tables = {name: TableReport.from_dict(name, t) for name, t in data["tables"].items()}
        return cls(
            tables=tables, ignored=tuple(data.get("ignored", ())), time_kind=data.get("time_kind")
        )

    def write(self, path: str | Path) -> None:
        text = json.dumps(self.to_dict(), indent=2, ensure_ascii=False, sort_keys=False)
        Path(path).write_text(text + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> IngestReport:
        try:
            return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError) as exc:
            raise ContractError(f"{path}: not a readable ingest report: {exc}") from None
