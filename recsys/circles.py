"""The interest-circle catalogue, read from TOML configuration (`data/circles.toml`).

Circles are configuration, not code: an imported data set may bring its own catalogue, so
nothing here assumes there are 21 of them.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from recsys.contract import CIRCLES
from recsys.errors import ConfigError


@dataclass(frozen=True)
class Circle:
    circle_id: str
    name_zh: str
    name_en: str
    categories: tuple[str, ...]


@dataclass(frozen=True)
class CircleCatalogue:
    """An ordered set of circles; a circle's position is its dense index everywhere."""

    circles: tuple[Circle, ...]

    def __post_init__(self) -> None:
        ids = [c.circle_id for c in self.circles]
        if not ids:
            raise ConfigError("a circle catalogue needs at least one circle")
        if len(set(ids)) != len(ids):
            raise ConfigError(f"duplicate circle ids in catalogue: {sorted(ids)}")
        seen: dict[str, str] = {}
        for circle in self.circles:
            for category in circle.categories:
                if category in seen:
                    raise ConfigError(
                        f"category {category!r} seeds both {seen[category]!r} and "
                        f"{circle.circle_id!r}; a category belongs to one circle"
                    )
                seen[category] = circle.circle_id

    def __len__(self) -> int:
        return len(self.circles)

    @property
    def ids(self) -> list[str]:
        return [c.circle_id for c in self.circles]

    def index_of(self, circle_id: str) -> int:
        return self.ids.index(circle_id)

    def category_to_circle(self) -> dict[str, str]:
        """Map each seeding item category to its circle id."""
        return {cat: c.circle_id for c in self.circles for cat in c.categories}

    def to_table(self) -> pa.Table:
        return pa.Table.from_pylist(
            [
                {
                    "circle_id": c.circle_id,
                    "name_zh": c.name_zh,
                    "name_en": c.name_en,
                    "categories": list(c.categories),
                }
                for c in self.circles
            ],
            schema=CIRCLES.schema,
        )

    @classmethod
    def from_table(cls, table: pa.Table) -> CircleCatalogue:
        return cls(
            tuple(
                Circle(r["circle_id"], r["name_zh"], r["name_en"], tuple(r["categories"] or ()))
                for r in table.to_pylist()
            )
        )


def load_catalogue(path: str | Path) -> CircleCatalogue:
    """Read a catalogue TOML file of `[[circle]]` entries (id, name_zh, name_en, categories)."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: circle catalogue not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    entries = raw.get("circle")
    if not isinstance(entries, list):
        raise ConfigError(f"{path}: expected [[circle]] entries")
    circles = []
    for n, entry in enumerate(entries, start=1):
        missing = {"id", "name_zh", "name_en", "categories"} - set(entry)
        if missing:
            raise ConfigError(f"{path}: circle #{n} lacks {sorted(missing)}")
        circles.append(
            Circle(entry["id"], entry["name_zh"], entry["name_en"], tuple(entry["categories"]))
        )
    return CircleCatalogue(tuple(circles))


def default_catalogue_path() -> Path:
    """The platform catalogue shipped at the project root (`data/circles.toml`)."""
    return Path(__file__).resolve().parent.parent / "data" / "circles.toml"
