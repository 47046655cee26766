"""`/signals` arguments: every phrase a person may type, and what is not understood."""

from __future__ import annotations

import pytest

from bot.command_parsing import parse_signals_args
from domain.config import Config
from domain.vocabulary import EXPANSION_CANDIDATE, INACTIVE_PAYING, REVENUE_AT_RISK, USAGE_DROP

CFG = Config()


def test_empty_means_top_ten_of_everything() -> None:
    q = parse_signals_args("", CFG)
    assert q.ok and q.top == 10 and q.types == frozenset() and not q.mine


@pytest.mark.parametrize("text,top", [("top 10", 10), ("top 3", 3), ("25", 25), ("TOP 1", 1)])
def test_top_n(text: str, top: int) -> None:
    assert parse_signals_args(text, CFG).top == top


@pytest.mark.parametrize("text", ["top 26", "top 0", "99"])
def test_top_outside_1_to_25_is_not_understood(text: str) -> None:
    q = parse_signals_args(text, CFG)
    assert not q.ok and "choose 1-25" in q.not_understood[0] and q.top == 10


def test_filters_combine() -> None:
    q = parse_signals_args("top 5 risk drop mine case:expansion tier2 champions", CFG)
    assert q.ok and q.top == 5
    assert q.types == {REVENUE_AT_RISK, USAGE_DROP}
    assert q.case_types == {"expansion"} and q.mine and q.tier == "Tier 2" and q.cell == "champions"
    assert q.describe() == "top 5 · drop · risk · case:expansion · mine · cell:champions · tier2"


def test_signal_words_and_case_words_do_not_collide() -> None:
    q = parse_signals_args("inactive expansion onboarding case risk", CFG)
    assert q.types == {INACTIVE_PAYING, EXPANSION_CANDIDATE}
    assert q.case_types == {"onboarding", "risk"}


def test_cells_and_tiers() -> None:
    assert parse_signals_args("cell:at-risk", CFG).cell == "revenue_at_risk"
    assert parse_signals_args("cell:expansion", CFG).cell == "expansion"
    assert parse_signals_args("tier 4", CFG).tier == "Tier 4"


def test_help_and_unknown_words() -> None:
    assert parse_signals_args("help", CFG).help
    q = parse_signals_args("top 5 riks banana", CFG)
    assert not q.ok and q.not_understood == ("riks", "banana")
