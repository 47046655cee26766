"""Demo data: reproducible to the byte, story orgs with the raw properties their signal needs,
a mass of ordinary orgs in every state, files the importer accepts, and — imported and
scanned for real — a share of flagged orgs a customer-success team would believe."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from cli import cli
from domain.config import Config
from domain.vocabulary import (
    BANDS,
    EXPANSION_CANDIDATE,
    INACTIVE_PAYING,
    REVENUE_AT_RISK,
    SIGNAL_TYPES,
    USAGE_DROP,
)
from demo.generator import DEFAULT_DAYS, DEFAULT_ORGS, DEFAULT_SEED, FEATURES, STORY_ORGS, generate_demo_data
from services.scanning import run_scan
from storage.importer import import_paths
from storage.models import HealthSnapshot, Signal

END = dt.date(2025, 6, 2)
AS_OF = pd.Timestamp(END, tz="UTC")
FILES = ("orgs.csv", "subscriptions.csv", "support_tickets.csv", "survey_responses.csv", "usage_events.csv")


def load(directory: Path) -> dict[str, pd.DataFrame]:
    frames = {name.removesuffix(".csv"): pd.read_csv(directory / name, dtype=str, keep_default_na=False)
              for name in FILES}
    ev = frames["usage_events"]
    ev["timestamp"] = pd.to_datetime(ev["timestamp"], utc=True)
    ev["count"] = ev["count"].astype(int)
    return frames


def mrr_on(subs: pd.DataFrame, day: dt.date) -> pd.Series:
    """MRR as storage.queries.mrr_condition reads it: started_at <= d < ended_at; trials
    never count; a canceled subscription counts only before its ended_at (none: never)."""
    started = pd.to_datetime(subs["started_at"]).dt.date
    ended = pd.to_datetime(subs["ended_at"].replace("", None)).dt.date
    canceled_open = (subs["status"] == "canceled") & ended.isna()
    live = (started <= day) & (ended.isna() | (ended > day)) & (subs["status"] != "trialing") & ~canceled_open
    return subs[live].assign(mrr=subs["mrr"].astype(float)).groupby("org_id")["mrr"].sum()


def window(ev: pd.DataFrame, org: str, newest_days_ago: int, oldest_days_ago: int) -> pd.DataFrame:
    """Events of ``org`` in (as_of - oldest, as_of - newest]."""
    t = ev["timestamp"]
    mask = (ev["org_id"] == org) & (t > AS_OF - pd.Timedelta(days=oldest_days_ago)) & (
        t <= AS_OF - pd.Timedelta(days=newest_days_ago))
    return ev[mask]


@pytest.fixture(scope="module", params=[7, 11])
def demo(request, tmp_path_factory) -> dict[str, pd.DataFrame]:
    out = tmp_path_factory.mktemp(f"demo{request.param}")
    generate_demo_data(out, orgs=60, days=120, seed=request.param, end_date=END)
    return load(out)


def test_same_seed_gives_identical_bytes_and_another_seed_does_not(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for out, seed in ((a, 3), (b, 3), (c, 4)):
        generate_demo_data(out, orgs=40, days=60, seed=seed, end_date=END)
    for name in FILES:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    assert (a / "usage_events.csv").read_bytes() != (c / "usage_events.csv").read_bytes()
    assert (a / "orgs.csv").read_bytes() != (c / "orgs.csv").read_bytes()


def test_files_have_the_import_columns(tmp_path):
    generate_demo_data(tmp_path, orgs=12, days=30, end_date=END)
    headers = {name: (tmp_path / name).read_text().splitlines()[0] for name in FILES}
    assert headers["usage_events.csv"] == "org_id,user_id,event,timestamp,count,event_id"
    assert headers["subscriptions.csv"] == "subscription_id,org_id,mrr,started_at,product,plan,status,ended_at,currency"
    assert headers["support_tickets.csv"] == "ticket_id,org_id,opened_at,severity,closed_at"
    assert headers["survey_responses.csv"] == "org_id,score,responded_at,user_id"
    assert headers["orgs.csv"].startswith("org_id,name,domain,created_at,source,owner,plan,seats,")


def test_story_orgs_are_present_with_their_ids(demo):
    orgs = demo["orgs"].set_index("org_id")
    for story in STORY_ORGS:
        assert orgs.loc[story.org_id, "name"] == story.name
    assert orgs.loc["acme", "domain"] == "acme.com"
    ev = demo["usage_events"]
    assert ev["timestamp"].max() < AS_OF  # nothing after the end date: a scan then sees it all


def test_acme_is_healthy_growing_and_using_its_seats(demo):
    ev, orgs = demo["usage_events"], demo["orgs"].set_index("org_id")
    recent, previous = window(ev, "acme", 0, 14), window(ev, "acme", 14, 28)
    assert recent["count"].sum() >= 1.3 * previous["count"].sum()
    last28 = window(ev, "acme", 0, 28)
    weekdays = pd.date_range(END - dt.timedelta(days=28), END - dt.timedelta(days=1), freq="B").date
    assert len(set(last28["timestamp"].dt.date) & set(weekdays)) >= len(weekdays) - 1
    assert recent["user_id"].nunique() >= 0.9 * int(orgs.loc["acme", "seats"])
    assert recent["event"].nunique() == len(FEATURES)
    assert mrr_on(demo["subscriptions"], END)["acme"] >= 10_000


def test_globex_usage_drops_sharply_but_not_to_zero(demo):
    ev = demo["usage_events"]
    recent, previous = window(ev, "globex", 0, 14)["count"].sum(), window(ev, "globex", 14, 28)["count"].sum()
    assert previous >= 200
    assert 0 < recent <= 0.4 * previous


def test_initech_pays_a_lot_uses_little_and_is_unhappy(demo):
    ev, orgs = demo["usage_events"], demo["orgs"].set_index("org_id")
    assert mrr_on(demo["subscriptions"], END)["initech"] >= 20_000
    last28 = window(ev, "initech", 0, 28)
    assert 0 < last28["timestamp"].dt.date.nunique() <= 10
    assert window(ev, "initech", 0, 14)["user_id"].nunique() <= 0.05 * int(orgs.loc["initech", "seats"])
    # Slowly declining: down, but not the sharp drop that makes a Usage drop signal.
    recent, previous = window(ev, "initech", 0, 14)["count"].sum(), window(ev, "initech", 14, 28)["count"].sum()
    assert -0.35 <= (recent - previous) / previous <= -0.10
    tickets = demo["support_tickets"]
    open_now = tickets[(tickets["org_id"] == "initech") & (tickets["closed_at"] == "")]
    assert (open_now["severity"] == "p1").sum() >= 2
    scores = demo["survey_responses"].query("org_id == 'initech'")["score"].astype(int)
    assert len(scores) >= 3 and scores.max() <= 6  # all detractors


def test_umbrella_pays_but_went_quiet(demo):
    ev = demo["usage_events"]
    last = ev.loc[ev["org_id"] == "umbrella", "timestamp"].max()
    assert AS_OF - last >= pd.Timedelta(days=20)
    assert mrr_on(demo["subscriptions"], END)["umbrella"] > 0


def test_hooli_was_imported_pays_and_never_used_the_product(demo):
    orgs = demo["orgs"].set_index("org_id")
    assert orgs.loc["hooli", "source"] == "import"
    assert AS_OF - pd.Timestamp(orgs.loc["hooli", "created_at"]) >= pd.Timedelta(days=30)
    assert mrr_on(demo["subscriptions"], END)["hooli"] > 0
    assert (demo["usage_events"]["org_id"] == "hooli").sum() == 0


def test_cyberdyne_falls_steadily_over_a_quarter_with_fortnights_alike(demo):
    ev = demo["usage_events"]
    assert mrr_on(demo["subscriptions"], END)["cyberdyne"] == 9000
    weekly = [int(window(ev, "cyberdyne", 7 * k, 7 * (k + 1))["count"].sum()) for k in range(12)][::-1]
    first, last = sorted(weekly[:4])[1:3], sorted(weekly[-4:])[1:3]  # the middle two of four: the median
    assert sum(last) <= 0.55 * sum(first)  # the typical week down by more than 45 %
    assert weekly[-1] <= 0.45 * weekly[0]  # about 60 % from the first week to the last
    assert all(b <= a * 1.05 for a, b in zip(weekly, weekly[1:]))  # steadily: no week up on the one before
    recent, previous = window(ev, "cyberdyne", 0, 14)["count"].sum(), window(ev, "cyberdyne", 14, 28)["count"].sum()
    assert -0.35 <= (recent - previous) / previous <= -0.05  # far from the −40 % of a drop


def test_massive_renews_within_a_month_on_light_steady_use(demo):
    orgs = demo["orgs"].set_index("org_id")
    assert pd.Timestamp(orgs.loc["massive", "renewal_date"]).date() == END + dt.timedelta(days=30)
    assert mrr_on(demo["subscriptions"], END)["massive"] == 5000
    ev = demo["usage_events"]
    assert window(ev, "massive", 0, 28)["timestamp"].dt.date.nunique() == 12  # Mon, Wed, Fri
    recent, previous = window(ev, "massive", 0, 14)["count"].sum(), window(ev, "massive", 14, 28)["count"].sum()
    assert abs(recent - previous) <= 0.2 * previous
    # Every other story renews outside the 90-day window: no story lands on a renewal by chance.
    others = orgs.loc[[o.org_id for o in STORY_ORGS if o.org_id != "massive"], "renewal_date"]
    assert all(r == "" or pd.Timestamp(r).date() > END + dt.timedelta(days=90) for r in others)


def test_tyrell_is_used_every_weekday_but_its_subscription_is_past_due(demo):
    subs = demo["subscriptions"]
    assert list(subs.loc[subs["org_id"] == "tyrell", "status"]) == ["past_due"]
    assert mrr_on(subs, END)["tyrell"] == 2000  # past due still counts as MRR
    weekdays = pd.date_range(END - dt.timedelta(days=28), END - dt.timedelta(days=1), freq="B").date
    assert set(weekdays) <= set(window(demo["usage_events"], "tyrell", 0, 28)["timestamp"].dt.date)


def test_revenue_stories_churn_reactivation_upgrade_trial(demo):
    subs = demo["subscriptions"]
    now, before = mrr_on(subs, END), mrr_on(subs, END - dt.timedelta(days=45))
    assert mrr_on(subs, END - dt.timedelta(days=90)).get("soylent", 0) > 0 and now.get("soylent", 0) == 0
    assert before.get("stark", 0) == 0 and now.get("stark", 0) > 0
    assert now["wayne"] > before["wayne"] > 0
    vandelay = subs[subs["org_id"] == "vandelay"]
    assert list(vandelay["status"]) == ["trialing"] and now.get("vandelay", 0) == 0


def test_the_mass_of_orgs_covers_every_signal_state(tmp_path):
    generate_demo_data(tmp_path, orgs=300, days=60, end_date=END)
    data = load(tmp_path)
    ev, orgs = data["usage_events"], data["orgs"].set_index("org_id")
    mrr = mrr_on(data["subscriptions"], END).reindex(orgs.index, fill_value=0.0)
    t = ev["timestamp"]
    recent = ev[t > AS_OF - pd.Timedelta(days=14)].groupby("org_id")["count"].sum().reindex(orgs.index, fill_value=0)
    prev = ev[(t > AS_OF - pd.Timedelta(days=28)) & (t <= AS_OF - pd.Timedelta(days=14))]
    prev = prev.groupby("org_id")["count"].sum().reindex(orgs.index, fill_value=0)
    days28 = ev[t > AS_OF - pd.Timedelta(days=28)].groupby("org_id")["timestamp"].agg(lambda s: s.dt.date.nunique())
    days28 = days28.reindex(orgs.index, fill_value=0)
    last = ev.groupby("org_id")["timestamp"].max().reindex(orgs.index)

    paying = mrr > 0
    drops = (prev >= 20) & (recent <= 0.6 * prev)
    growth = (prev > 0) & (recent >= 1.2 * prev) & (days28 >= 16)
    quiet = paying & (last.isna() | (AS_OF - last >= pd.Timedelta(days=14)))
    barely = paying & (days28 <= 5) & (days28 > 0)
    for name, mask in {"drops": drops, "growth": growth, "quiet": quiet, "barely used": barely}.items():
        assert mask.sum() >= 10, name

    paid = mrr[paying]
    assert 50 <= paid.median() <= 500
    assert paid.max() >= 10_000 and paid.max() <= 40_000
    assert 10 <= ev["event"].nunique() <= 15
    assert orgs["owner"].str.endswith("@example.com").sum() >= 100


def test_demo_data_imports_cleanly_and_idempotently(session_factory, tmp_path):
    summary = generate_demo_data(tmp_path, orgs=30, days=35, end_date=END)
    first = import_paths([tmp_path], session_factory, chunk_rows=5000)
    assert (first.orgs.inserted, first.subscriptions.inserted) == (summary.orgs, summary.subscriptions)
    assert (first.tickets.inserted, first.surveys.inserted) == (summary.tickets, summary.surveys)
    assert (first.events_read, first.events_new) == (summary.events, summary.events)
    second = import_paths([tmp_path], session_factory)
    assert (second.events_new, second.orgs.unchanged) == (0, summary.orgs)


def test_cli_writes_the_files(tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["demo-data", "--orgs", "20", "--days", "30", "--seed", "5",
                                      "--end-date", "2025-06-02", "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("wrote 20 orgs, ")
    assert f"to {out}/ (ending 2025-06-02)" in result.stdout
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES)

    result = CliRunner().invoke(cli, ["demo-data", "--orgs", "3", "--out", str(out)])
    assert result.exit_code == 2
    assert "--orgs" in result.stderr


def test_a_scan_of_the_default_demo_flags_a_believable_share_of_orgs(session_factory, tmp_path):
    """`make demo`'s data set (300 orgs, 240 days, seed 7) imported and scanned on its end
    date, as `make demo` does: a week's work for a CS team, not an alarm on every other org."""
    generate_demo_data(tmp_path, orgs=DEFAULT_ORGS, days=DEFAULT_DAYS, seed=DEFAULT_SEED, end_date=END)
    import_paths([tmp_path], session_factory)
    run_scan(session_factory, Config(), dt.datetime.combine(END, dt.time(9), tzinfo=dt.timezone.utc))
    with session_factory() as s:
        signals = pd.DataFrame(
            s.execute(select(Signal.org_id, Signal.type, Signal.priority, Signal.suggested_case)).all(),
            columns=["org_id", "type", "priority", "case"],
        )
        snapshots = pd.DataFrame(s.execute(select(HealthSnapshot.org_id, HealthSnapshot.band,
                                                  HealthSnapshot.mrr)).all(), columns=["org_id", "band", "mrr"])

    org_priority = signals.groupby("org_id")["priority"].max().sort_values(ascending=False, kind="stable")
    assert 45 <= len(org_priority) <= 80  # 15-27 % of 300
    by_type = signals["type"].value_counts()
    for signal_type in SIGNAL_TYPES:
        assert by_type.get(signal_type, 0) >= 5, signal_type
    # Imported and never activated: hooli and a few others, not a crowd.
    assert 2 <= signals.loc[signals["case"] == "onboarding", "org_id"].nunique() <= 6
    bands = snapshots["band"].value_counts()
    assert all(bands.get(band, 0) >= 30 for band in BANDS), bands.to_dict()

    # Each story org lands on its signal, and they lead the list with a few big accounts.
    types = signals.groupby("org_id")["type"].agg(set)
    assert EXPANSION_CANDIDATE in types["acme"]
    assert USAGE_DROP in types["globex"]
    assert types["initech"] == {REVENUE_AT_RISK}
    assert INACTIVE_PAYING in types["umbrella"]
    assert types["hooli"] == {INACTIVE_PAYING}  # not active yet: onboarding, never Revenue at risk
    assert set(signals.loc[signals["org_id"] == "hooli", "case"]) >= {"onboarding"}
    assert types["cyberdyne"] == {USAGE_DROP}  # the sustained decline
    assert types["massive"] == {REVENUE_AT_RISK}  # renewal at risk
    assert types["tyrell"] == {REVENUE_AT_RISK}  # payment past due
    top10 = list(org_priority.index[:10])
    story = {"acme", "globex", "initech", "umbrella", "hooli"}
    assert story <= set(top10)
    mrr = snapshots.set_index("org_id")["mrr"].astype(float)
    others = mrr[[o for o in top10 if o not in story]]
    assert others.median() >= 5 * mrr[mrr > 0].median()


@pytest.mark.parametrize("seed", [1, 2, 6])
def test_every_subscription_ends_after_it_starts_on_a_long_history(tmp_path, seed):
    """Churns spread over the whole history: a churned org must have been a customer first
    (seeds 1, 2 and 6 once wrote an ended_at before its started_at on 240 days)."""
    generate_demo_data(tmp_path, orgs=DEFAULT_ORGS, days=240, seed=seed, end_date=END)
    subs = pd.read_csv(tmp_path / "subscriptions.csv", keep_default_na=False)
    ended = subs[subs["ended_at"] != ""]
    assert len(ended) > 20
    assert (pd.to_datetime(ended["ended_at"]) > pd.to_datetime(ended["started_at"])).all()
    # The churns spread over the history, not only its last three months.
    churn_days = (pd.Timestamp(END) - pd.to_datetime(ended["ended_at"])).dt.days
    assert churn_days.max() > 150 and churn_days.min() < 30
