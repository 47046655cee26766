"""`/org` lookups: what a person types is text, never a LIKE pattern, and the number of
matches is the true one."""

from __future__ import annotations

import difflib

from hypothesis import given, settings
from hypothesis import strategies as st

from services.org_lookup import closest_names, find_orgs
from storage.org_search import like_pattern
from storage.db import get_or_create_application
from storage.models import Org


def _seed(session, names: list[str]) -> int:
    app = get_or_create_application(session)
    session.add_all([Org(org_id=f"o{i}", application_id=app.id, name=name) for i, name in enumerate(names)])
    session.flush()
    return app.id


def test_like_wildcards_typed_by_a_person_match_only_themselves(session) -> None:
    app_id = _seed(session, ["Acme", "Globex", "100% Uptime", "snake_case Ltd", "Back\\slash"])
    assert [m.name for m in find_orgs(session, app_id, "%").matches] == ["100% Uptime"]
    assert [m.name for m in find_orgs(session, app_id, "_").matches] == ["snake_case Ltd"]
    assert [m.name for m in find_orgs(session, app_id, "\\").matches] == ["Back\\slash"]
    assert find_orgs(session, app_id, "%%").matches == []
    assert find_orgs(session, app_id, "a_m").matches == []  # "_" is not "any one character"


def test_many_matches_report_the_true_total(session) -> None:
    app_id = _seed(session, [f"Widget {n:03d}" for n in range(312)] + ["Acme"])
    found = find_orgs(session, app_id, "widget")
    assert len(found.matches) == 10 and found.total == 312
    assert [m.name for m in found.matches] == [f"Widget {n:03d}" for n in range(10)]
    few = find_orgs(session, app_id, "widget 00")
    assert len(few.matches) == 10 and few.total == 10
    one = find_orgs(session, app_id, "acm")
    assert [m.name for m in one.matches] == ["Acme"] and one.total == 1


def test_like_pattern_escapes_the_escape_first() -> None:
    assert like_pattern("a\\%_b") == "%a\\\\\\%\\_b%"


@settings(max_examples=150, deadline=None)
@given(typed=st.text(alphabet="abcdeio rst", min_size=1, max_size=12),
       names=st.lists(st.text(alphabet="abcdeioABCD rst-", min_size=1, max_size=20), max_size=60))
def test_did_you_mean_names_the_same_orgs_as_difflib_over_every_name(typed: str, names: list[str]) -> None:
    """The fast comparison only narrows the names down; the suggestions are difflib's."""
    lowered = {n.lower(): n for n in names}
    want = [lowered[c] for c in difflib.get_close_matches(typed, list(lowered), n=5, cutoff=0.5)]
    assert closest_names(typed, names) == want


def test_a_typo_suggests_the_closest_names(session) -> None:
    app_id = _seed(session, ["Acme Corp", "Globex", "Initech", "Umbrella"] + [f"Widget {n:04d}" for n in range(400)])
    found = find_orgs(session, app_id, "initeck")
    assert found.matches == [] and found.closest[0] == "Initech"
    assert find_orgs(session, app_id, "acmme corp").closest[0] == "Acme Corp"
