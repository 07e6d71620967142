"""The reasons grammar: ``code`` or ``code:arg``."""

from __future__ import annotations

import pytest

from recsys.errors import ContractError
from recsys.runtime.reasons import ReasonCode, parse_reason, reason


def test_format_and_parse_round_trip() -> None:
    assert reason(ReasonCode.SIMILAR_TO, "i42") == "similar_to:i42"
    assert reason(ReasonCode.POPULAR) == "popular"
    assert parse_reason("trending_in_circle:snacks") == (ReasonCode.TRENDING_IN_CIRCLE, "snacks")
    assert parse_reason("trending") == (ReasonCode.TRENDING, None)
    # everything after the first colon is the argument
    assert parse_reason("similar_to:sku:12:red") == (ReasonCode.SIMILAR_TO, "sku:12:red")


@pytest.mark.parametrize("text", ["", "because", "popular:x", "similar_to", "similar_to:"])
def test_malformed_reasons_are_refused(text: str) -> None:
    with pytest.raises(ContractError):
        parse_reason(text)


def test_arguments_are_required_exactly_where_the_code_takes_one() -> None:
    with pytest.raises(ContractError, match="item_id"):
        reason(ReasonCode.SIMILAR_TO)
    with pytest.raises(ContractError, match="no argument"):
        reason(ReasonCode.POPULAR, "x")
