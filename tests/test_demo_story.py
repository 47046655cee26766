"""The demo, as `make demo` runs it: generated CSVs → import → scan, then what people see.

The story orgs must land where the ranking promises (docs/ranking.md), every cell and tier
must be populated, the digest must fit Slack, and the terminal commands must work on it.
"""

from __future__ import annotations

import datetime as dt

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from bot.digest_messages import digest_message
from bot.limits import MESSAGE_MAX_BLOCKS, validate_message
from services import revenue
from services import org_details, signal_list
from cli import cli
from domain.config import Config
from domain.vocabulary import EXPANSION_CANDIDATE, INACTIVE_PAYING, REVENUE_AT_RISK, SIGNAL_TYPES, USAGE_DROP
from services.digest import build_digest
from demo_db import build_demo_db
from storage.db import make_session_factory
from storage.models import AuditLog, CaseTag, Signal

pytestmark = pytest.mark.slow  # builds the demo database

END = dt.date(2026, 11, 20)
AS_OF = dt.datetime(2026, 11, 20, 23, 59, 59, tzinfo=dt.timezone.utc)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    url, engine = build_demo_db(root, orgs=300, days=120, end=END, as_of=AS_OF)
    yield url, make_session_factory(engine), root
    engine.dispose()


def _open_types(factory, org_id: str) -> dict[str, str | None]:
    with factory() as s:
        rows = s.execute(select(Signal.type, Signal.suggested_case).where(
            Signal.org_id == org_id, Signal.status == "active")).all()
    return dict(rows)


def _evidence(factory, org_id: str, signal_type: str) -> dict:
    with factory() as s:
        return s.scalar(select(Signal.evidence).where(Signal.org_id == org_id, Signal.type == signal_type,
                                                      Signal.status == "active"))


def test_story_orgs_land_where_they_belong(demo) -> None:
    _, factory, _ = demo
    hooli = _open_types(factory, "hooli")
    assert hooli == {INACTIVE_PAYING: "onboarding"}  # imported from billing, never activated: not risk
    assert USAGE_DROP in _open_types(factory, "globex")  # sharp drop
    assert EXPANSION_CANDIDATE in _open_types(factory, "acme")  # healthy and growing
    assert REVENUE_AT_RISK in _open_types(factory, "initech")  # high MRR, low health
    assert INACTIVE_PAYING in _open_types(factory, "umbrella")  # paying, gone quiet
    assert _open_types(factory, "soylent") == {}  # churned: nothing to pay, nothing to flag
    # The three stories the fortnight comparison and a health threshold alone would miss.
    assert _open_types(factory, "cyberdyne") == {USAGE_DROP: "risk"}  # down over a quarter
    decline = _evidence(factory, "cyberdyne", USAGE_DROP)
    assert decline["decline_change"] <= -0.4 < decline["usage_change"]  # fortnights alike
    assert decline["decline_weeks"] == 12 and decline["decline_last_to"] == "2026-11-20"
    assert _open_types(factory, "massive") == {REVENUE_AT_RISK: "risk"}  # renewal in 30 days, yellow
    renewal = _evidence(factory, "massive", REVENUE_AT_RISK)
    assert renewal["days_to_renewal"] == 30 and 40 <= renewal["health"] < 60
    assert _open_types(factory, "tyrell") == {REVENUE_AT_RISK: "risk"}  # healthy, but past due
    past_due = _evidence(factory, "tyrell", REVENUE_AT_RISK)
    assert past_due["past_due_mrr"] == 2000.0 and past_due["health"] >= 70
    with factory() as s:
        hooli_detail = org_details.org_detail(s, 1, "hooli", AS_OF, Config())
        assert hooli_detail.item.case_suggested == "onboarding"
        assert hooli_detail.item.not_active and hooli_detail.item.health is None
        listing = signal_list.list_signals(s, 1, AS_OF, signal_list.SignalFilter(top=15), Config())
    types = {sig.type for item in listing.items for sig in item.signals}
    assert types == set(SIGNAL_TYPES)  # all four types in what `make demo` prints
    ranked = [i.org_id for i in listing.items]
    assert ranked[:2] == ["initech", "umbrella"]  # the most money in the worst shape
    assert {"massive", "globex", "hooli", "tyrell", "acme", "cyberdyne"} <= set(ranked[:10])
    # Not active yet is onboarding MRR, never MRR at risk.
    assert listing.cards.onboarding_mrr >= 3000.0


def test_every_cell_and_tier_is_populated(demo) -> None:
    _, factory, _ = demo
    with factory() as s:
        report = revenue.segments_report(s, "default", END, Config())
        tiers = revenue.tiers_report(s, "default", END, Config())
    counts = dict(zip(report.summary["key"], report.summary["org_count"]))
    assert set(counts) == {"revenue_at_risk", "champions", "watch", "expansion"}
    assert all(n > 0 for n in counts.values()), counts
    assert set(tiers["tier"].dropna()) == {"Tier 1", "Tier 2", "Tier 3", "Tier 4"}


def test_the_demo_digest_fits_slack(demo) -> None:
    _, factory, _ = demo
    cfg = Config()
    with factory() as s:
        digest = build_digest(s, 1, AS_OF, cfg)
    message = digest_message(digest, AS_OF, cfg)
    validate_message(message["blocks"], message["text"])
    assert len(message["blocks"]) <= MESSAGE_MAX_BLOCKS
    items = [b for b in message["blocks"] if b.get("block_id", "").startswith("item|")]
    assert len(items) == cfg.slack.digest_top


def test_terminal_commands_on_the_demo(demo, monkeypatch) -> None:
    url, factory, root = demo
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.delenv("SAAS_TRACKER_CONFIG", raising=False)
    monkeypatch.chdir(root)
    runner = CliRunner()

    out = runner.invoke(cli, ["signals", "--top", "5", "--type", "drop", "--as-of", "2026-11-20"])
    assert out.exit_code == 0, out.output
    assert "Orgs with active signals:" in out.output and "Usage drop" in out.output and "why:" in out.output

    out = runner.invoke(cli, ["org", "acme.com"])
    assert out.exit_code == 0, out.output
    assert "Acme Corp" in out.output and "Expansion candidate" in out.output and "Subscriptions" in out.output

    out = runner.invoke(cli, ["org", "initek"])
    assert out.exit_code == 1 and "Initech" in out.output  # closest names

    out = runner.invoke(cli, ["tag", "hooli", "onboarding", "--actor", "ana@example.com"])
    assert out.exit_code == 0 and "Tagged onboarding" in out.output
    out = runner.invoke(cli, ["snooze", "globex", "--days", "7", "--type", "drop", "--actor", "ana@example.com"])
    assert out.exit_code == 0 and "snoozed until" in out.output
    out = runner.invoke(cli, ["dismiss", "globex", "--type", "drop"])
    assert out.exit_code == 0 and "Nothing changed" not in out.output  # a snoozed signal can be dismissed
    out = runner.invoke(cli, ["audit", "--limit", "5"])
    assert out.exit_code == 0 and "ana@example.com" in out.output and "snooze" in out.output
    with factory() as s:
        assert s.get(CaseTag, "hooli").case_type == "onboarding"
        assert [a.action for a in s.scalars(select(AuditLog).order_by(AuditLog.id))] == ["tag", "snooze", "dismiss"]
    # Undone: the dismissed drop is back on the list (and again, nothing left to restore).
    def drop_status() -> str:
        with factory() as s:
            return s.scalar(select(Signal.status).where(Signal.org_id == "globex", Signal.type == "usage_drop",
                                                        Signal.status != "resolved"))

    assert drop_status() == "dismissed"
    out = runner.invoke(cli, ["unsnooze", "globex", "--type", "drop", "--actor", "ana@example.com"])
    assert out.exit_code == 0 and "1 signal(s) active again" in out.output, out.output
    assert drop_status() == "active"
    out = runner.invoke(cli, ["unsnooze", "globex"])
    assert out.exit_code == 0 and "Nothing changed" in out.output
    out = runner.invoke(cli, ["signals", "--top", "50", "--type", "drop", "--as-of", "2026-11-20"])
    assert "Globex" in out.output
