"""The circle catalogue is configuration: loaded from TOML, validated, never assumed to be 21."""

from __future__ import annotations

import pytest

from recsys.circles import CircleCatalogue, default_catalogue_path, load_catalogue
from recsys.contract import CIRCLES
from recsys.errors import ConfigError


def test_platform_catalogue_has_21_circles_with_unique_categories() -> None:
    catalogue = load_catalogue(default_catalogue_path())
    assert len(catalogue) == 21
    mapping = catalogue.category_to_circle()
    assert mapping["skincare"] == "beauty"
    assert len(set(mapping.values())) == 21


def test_table_round_trip() -> None:
    catalogue = load_catalogue(default_catalogue_path())
    table = catalogue.to_table()
    assert table.schema == CIRCLES.schema
    assert CircleCatalogue.from_table(table) == catalogue


def test_a_small_catalogue_works(tmp_path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        '[[circle]]\nid="a"\nname_zh="甲"\nname_en="A"\ncategories=["x"]\n'
        '[[circle]]\nid="b"\nname_zh="乙"\nname_en="B"\ncategories=["y","z"]\n',
        encoding="utf-8",
    )
    catalogue = load_catalogue(path)
    assert catalogue.ids == ["a", "b"]
    assert catalogue.index_of("b") == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[circle]]\nid="a"\nname_zh="甲"\nname_en="A"\n', "lacks"),
        ("circle = 3\n", "expected"),
        ("[[circle]\n", "not valid TOML"),
        (
            '[[circle]]\nid="a"\nname_zh="甲"\nname_en="A"\ncategories=["x"]\n'
            '[[circle]]\nid="b"\nname_zh="乙"\nname_en="B"\ncategories=["x"]\n',
            "seeds both",
        ),
        (
            '[[circle]]\nid="a"\nname_zh="甲"\nname_en="A"\ncategories=["x"]\n'
            '[[circle]]\nid="a"\nname_zh="乙"\nname_en="B"\ncategories=["y"]\n',
            "duplicate circle ids",
        ),
    ],
)
def test_bad_catalogues_fail_with_a_clear_message(tmp_path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_catalogue(path)
