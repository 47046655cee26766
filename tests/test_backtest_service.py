"""The backtest on a real database: point in time (nothing after an as-of day changes its
scores), read-only (no table and no Slack channel changes), and exact on a hand-made
history whose figures a person can work out.

The history: ten paying orgs ($1,000 each, $500 for two) used every weekday by five people
since January. Two of them ("gone-1", "gone-2") stop using the product on 20 February and
cancel on 15 April; everyone else keeps going. As-of days: 10 and 17 March, horizon 60 days.

* Both as-of days see the two silent orgs with a far lower health than the eight busy ones,
  so the churn AUC of the health score is exactly 1.
* 20 observations, 4 churned (2 orgs × 2 days): churn rate 0.2. The riskiest 10 % is 2
  observations, both churned: lift 1.0 / 0.2 = 5.
* Each silent org has Inactive paying open from 10 March (18 days of silence > 14): MRR
  caught is 100 % ($1,000 + $500 lost, both flagged beforehand), and the signal's lead time
  is 36 days (10 March → 15 April) for both.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, inspect, select, text

from domain.config import Config
from scoring.evaluation import NotEnoughEvidence
from services.backtest import BacktestPlan, BacktestRangeError, collect, plan_backtest, run_backtest
from storage.db import read_only_session
from storage.importer import import_paths
from storage.models import Base

START = dt.date(2026, 1, 1)
LAST = dt.date(2026, 6, 30)
SILENT_FROM = dt.date(2026, 2, 20)
CANCELED = dt.date(2026, 4, 15)
ORGS = {f"busy-{i}": 1000 for i in range(1, 9)} | {"gone-1": 1000, "gone-2": 500}
PLAN = BacktestPlan(start=dt.date(2026, 3, 10), end=dt.date(2026, 3, 17), every_days=7, horizon_days=60,
                    history_first=START, history_end=LAST)


def _write(path: Path, header: list[str], rows: list[list[object]]) -> None:
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


def write_history(root: Path, *, until: dt.date = LAST) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    _write(root / "orgs.csv", ["org_id", "name", "created_at", "seats"],
           [[o, o.title(), "2025-06-01", 10] for o in ORGS])
    _write(root / "subscriptions.csv", ["subscription_id", "org_id", "mrr", "started_at", "ended_at", "status"],
           [[f"s-{o}", o, mrr, "2025-06-01", CANCELED.isoformat() if o.startswith("gone") else "",
             "canceled" if o.startswith("gone") else "active"] for o, mrr in ORGS.items()])
    events = []
    day = START
    while day <= until:
        if day.weekday() < 5:
            for o in ORGS:
                if o.startswith("gone") and day >= SILENT_FROM:
                    continue
                for user in range(5):
                    events.append([o, f"{o}-u{user}", "reports", f"{day.isoformat()}T10:00:00Z", 4])
        day += dt.timedelta(days=1)
    _write(root / "usage_events.csv", ["org_id", "user_id", "event", "timestamp", "count"], events)
    return root


@pytest.fixture
def history(session_factory, tmp_path):
    import_paths([write_history(tmp_path / "data")], session_factory)
    return session_factory


def test_the_hand_made_history_gives_the_figures_worked_out_by_hand(history) -> None:
    result = run_backtest(history, Config(), PLAN, min_churns=2)
    model = result.model
    assert (result.observations, result.churned_observations, result.churn_events) == (20, 4, 2)
    assert model.auc.value == pytest.approx(1.0)
    assert model.lift.value == pytest.approx(5.0)
    assert result.mrr_caught.value == pytest.approx(1.0)
    assert (result.lost_mrr, result.caught_mrr) == (pytest.approx(1500.0), pytest.approx(1500.0))
    inactive = result.signals.set_index("type").loc["inactive_paying"]
    assert inactive["median_lead_days"] == pytest.approx(36.0)
    assert inactive["precision"] == pytest.approx(1.0) and inactive["recall"] == pytest.approx(1.0)


def test_nothing_after_an_as_of_day_changes_its_scores(history, tmp_path) -> None:
    """Leakage: more usage, a ticket, a survey answer, a new subscription and a new org, all
    after the last as-of day's end, leave every as-of observation and open signal as it was."""
    before = collect(history, Config(), PLAN)
    later = tmp_path / "later"
    later.mkdir()
    after = PLAN.end + dt.timedelta(days=1)
    _write(later / "orgs.csv", ["org_id", "name", "created_at"], [["newcomer", "Newcomer", after.isoformat()]])
    _write(later / "subscriptions.csv", ["subscription_id", "org_id", "mrr", "started_at"],
           [["s-new", "newcomer", 9000, after.isoformat()], ["s-up", "busy-1", 4000, after.isoformat()]])
    _write(later / "usage_events.csv", ["org_id", "user_id", "event", "timestamp"],
           [["gone-1", "gone-1-u0", "reports", f"{after.isoformat()}T00:00:01Z"],
            ["busy-2", "busy-2-new", "exports", f"{after.isoformat()}T08:00:00Z"]])
    _write(later / "support_tickets.csv", ["ticket_id", "org_id", "opened_at", "severity"],
           [["t-1", "busy-3", f"{after.isoformat()}T09:00:00Z", "p1"]])
    _write(later / "survey_responses.csv", ["org_id", "score", "responded_at"],
           [["busy-4", 0, f"{after.isoformat()}T09:00:00Z"]])
    import_paths([later], history)
    again = collect(history, Config(), PLAN)
    columns = [c for c in before.observations.columns]
    assert again.observations[columns].equals(before.observations[columns])
    assert again.open_signals.equals(before.open_signals)


def _row_counts(factory) -> dict[str, int]:
    with factory() as session:
        return {t: session.scalar(select(func.count()).select_from(Base.metadata.tables[t]))
                for t in sorted(Base.metadata.tables)}


def test_a_backtest_writes_nothing_and_posts_nothing(history, slack_stub, monkeypatch) -> None:
    """Against a database that has been scanned (signals, snapshots, queued alerts), a
    backtest and a calibration leave every table's row count as it was and post nothing."""
    from bot.delivery import BlockKitMessages
    from services.alerts import alerts_hook
    from services.scanning import run_scan

    run_scan(history, Config(), dt.datetime(2026, 3, 20, 12, tzinfo=dt.timezone.utc),
             after_signals=alerts_hook(BlockKitMessages()))
    counts = _row_counts(history)
    assert counts["signals"] > 0 and counts["health_snapshots"] == len(ORGS)
    run_backtest(history, Config(), PLAN, min_churns=2)
    with pytest.raises(BacktestRangeError):  # the short plan can't be split; the attempt writes nothing either
        from services.backtest import run_calibration

        run_calibration(history, Config(), PLAN)
    assert _row_counts(history) == counts
    assert slack_stub.calls == []


def test_the_read_only_session_refuses_writes(history) -> None:
    with read_only_session(history) as session:
        with pytest.raises(Exception, match="(?i)read.only|readonly|attempt to write"):
            session.execute(text("DELETE FROM orgs"))
    with history() as session:
        assert session.scalar(select(func.count()).select_from(Base.metadata.tables["orgs"])) == len(ORGS)
    assert inspect(history.kw["bind"]).has_table("orgs")


def test_the_plan_follows_the_data_and_refuses_what_it_cannot_score(history) -> None:
    plan = plan_backtest(history, Config(), horizon_days=60)
    assert (plan.history_first, plan.history_end) == (START, dt.date(2026, 6, 30))
    assert plan.start == START + dt.timedelta(days=28) and plan.end == LAST - dt.timedelta(days=60)
    with pytest.raises(BacktestRangeError, match="--end 2026-03-01 is before --start 2026-03-10"):
        plan_backtest(history, Config(), start=dt.date(2026, 3, 10), end=dt.date(2026, 3, 1))
    with pytest.raises(BacktestRangeError, match="runs past the data, which ends on 2026-06-30: use --end 2026-05-01"):
        plan_backtest(history, Config(), end=dt.date(2026, 6, 1), horizon_days=60)
    with pytest.raises(NotEnoughEvidence, match="only 2 churns in the scored period; at least 5"):
        run_backtest(history, Config(), PLAN)


def test_the_cli_says_what_is_missing_in_one_line_and_writes_no_report(history, tmp_path, monkeypatch) -> None:
    from cli import cli

    url = history.kw["bind"].url.render_as_string(hide_password=False)
    monkeypatch.setenv("DATABASE_URL", url)
    html = tmp_path / "report.html"
    runner = CliRunner()
    cases = [
        (["backtest", "--start", "2026-03-10", "--end", "2026-03-01"], "is before --start"),
        (["backtest", "--end", "2026-06-20", "--html", str(html)], "runs past the data"),
        (["backtest", "--start", "2026-03-10", "--end", "2026-03-17", "--html", str(html)],
         "only 2 churns in the scored period"),
        (["backtest", "--every", "seven"], "is not a number of days"),
        # The held-out period fits, but the early weeks of this history hold no churn to fit on.
        (["calibrate"], "only 0 churned observations in the training period"),
        (["calibrate", "--start", "2026-03-10", "--end", "2026-03-17"],
         "calibrate needs as-of days more than the 60-day horizon apart"),
    ]
    for args, expected in cases:
        done = runner.invoke(cli, args)
        assert done.exit_code != 0, (args, done.output)
        assert expected in done.output and "Traceback" not in done.output, (args, done.output)
    assert not html.exists()


def test_the_cli_prints_the_figures_and_writes_the_html_report(history, tmp_path, monkeypatch) -> None:
    from cli import cli

    monkeypatch.setenv("DATABASE_URL", history.kw["bind"].url.render_as_string(hide_password=False))
    config = tmp_path / "saas-tracker.toml"
    config.write_text("[backtest]\nmin_churns = 2\n")
    html = tmp_path / "report.html"
    done = CliRunner().invoke(cli, ["--config", str(config), "backtest", "--start", "2026-03-10", "--end",
                                    "2026-03-17", "--horizon", "60d", "--html", str(html)])
    assert done.exit_code == 0, done.output
    assert "20 observations, 4 churned, 2 churn events" in done.output
    assert "MRR caught" in done.output and "100.0 %" in done.output
    page = html.read_text()
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page and "http://" not in page and "https://" not in page


def test_the_json_output_carries_the_same_figures(history, tmp_path, monkeypatch) -> None:
    import json

    from cli import cli

    monkeypatch.setenv("DATABASE_URL", history.kw["bind"].url.render_as_string(hide_password=False))
    config = tmp_path / "saas-tracker.toml"
    config.write_text("[backtest]\nmin_churns = 2\n")
    done = CliRunner().invoke(cli, ["--config", str(config), "backtest", "--start", "2026-03-10", "--end",
                                    "2026-03-17", "--format", "json"])
    assert done.exit_code == 0, done.output
    data = json.loads(done.output)
    model = data["result"]["rankings"][0]
    assert model["auc"]["value"] == 1.0 and model["lift"]["value"] == 5.0
    assert data["result"]["mrr_caught"]["value"] == 1.0
    assert {row["type"] for row in data["result"]["signals"]} >= {"inactive_paying", "revenue_at_risk"}
    assert data["plan"]["horizon_days"] == 60



def test_the_read_only_session_leaves_no_pooled_connection_read_only(history) -> None:
    """``query_only`` is a SQLite connection's setting: with several connections in the pool
    (a scan's side reads leave some), the one the report read on must write again after."""
    engine = history.kw["bind"]
    first, second = engine.connect(), engine.connect()
    first.close(), second.close()  # two idle connections in the pool, handed out in turn
    with read_only_session(history) as session:
        raw = session.connection().connection.driver_connection
        session.scalar(select(func.count()).select_from(Base.metadata.tables["orgs"]))
    if engine.dialect.name == "sqlite":
        assert raw.execute("PRAGMA query_only").fetchone()[0] == 0
    for _ in range(3):  # every pooled connection writes
        with history() as s, s.begin():
            s.execute(text("UPDATE orgs SET name = name"))
