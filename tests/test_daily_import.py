"""Daily rollup files (usage_daily, usage_daily_users, usage_daily_features), on SQLite and
PostgreSQL: the same scan inputs as the raw events they summarise, replace-per-org-day
idempotency, exact messages for files that disagree, and no silent mixing with raw events."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from sqlalchemy import delete, select

from domain.config import Config
from demo.generator import generate_demo_data
from storage.importer import ImportRejected, InputError, import_paths
from storage.models import Application, EventKeyBlock, UsageDaily, UsageDailyFeature, UsageDailyUser
from storage.queries import last_seen_by_org, usage_windows
from test_import import (D1, D2, EVENTS_CSV, EVENTS_DAILY, EVENTS_PER_FEATURE, EVENTS_PER_USER, ORGS_CSV, UTC, counts,
                         snapshot, write)
from usage_rows import daily, per_feature, per_user

README = Path(__file__).resolve().parents[1] / "README.md"

# The rollup of test_import.EVENTS_CSV, as a warehouse would export it.
DAILY_CSV = """org_id,day,events,last_event_at
acme,2024-05-01,5,2024-05-01T15:45:10.5Z
acme,2024-05-02,3,2024-05-02 01:30:00
beta,2024-05-01,4,2024-05-01T12:00:00Z
"""
USERS_CSV = """org_id,day,user_id,events
acme,2024-05-01,u1,3
acme,2024-05-01,u3,1
acme,2024-05-01,u4,1
acme,2024-05-02,u2,3
beta,2024-05-01,u9,4
"""
FEATURES_CSV = """org_id,day,feature,events
acme,2024-05-01,dashboards,2
acme,2024-05-01,exports,3
acme,2024-05-02,reports,3
beta,2024-05-01,api,4
"""


def rollup_files(directory: Path, daily_csv: str = DAILY_CSV, users: str = USERS_CSV,
                 features: str = FEATURES_CSV) -> Path:
    return write(directory, usage_daily=daily_csv, usage_daily_users=users, usage_daily_features=features)


def test_rollup_files_give_the_rows_the_raw_events_give(session_factory, tmp_path):
    import_paths([write(tmp_path / "orgs", orgs=ORGS_CSV)], session_factory)
    report = import_paths([rollup_files(tmp_path / "daily")], session_factory)

    assert (report.daily_rows, report.daily_user_rows, report.daily_feature_rows) == (3, 5, 4)
    assert (report.days_new, report.days_replaced) == (3, 0)
    # Exactly the rows the raw events give (test_import.test_rollup_numbers_are_exact).
    assert daily(session_factory) == EVENTS_DAILY
    assert per_user(session_factory) == EVENTS_PER_USER
    assert per_feature(session_factory) == EVENTS_PER_FEATURE
    # Three org-days remembered as rollup days; no event keys.
    assert counts(session_factory)["event_keys"] == 3


def test_importing_the_same_rollups_again_changes_nothing(session_factory, tmp_path):
    import_paths([write(tmp_path / "orgs", orgs=ORGS_CSV)], session_factory)
    files = rollup_files(tmp_path / "daily")
    import_paths([files], session_factory)
    before = snapshot(session_factory)
    again = import_paths([files], session_factory)
    assert snapshot(session_factory) == before
    assert (again.days_new, again.days_replaced) == (0, 3)


def test_a_rollup_replaces_its_org_days_and_leaves_the_others(session_factory, tmp_path):
    import_paths([write(tmp_path / "orgs", orgs=ORGS_CSV)], session_factory)
    import_paths([rollup_files(tmp_path / "first")], session_factory)
    # A corrected export of acme's 2024-05-01: u1 and u3 only, one feature.
    fixed = rollup_files(
        tmp_path / "second",
        "org_id,day,events,last_event_at\nacme,2024-05-01,2,2024-05-01T10:00:00Z\n",
        "org_id,day,user_id,events\nacme,2024-05-01,u1,1\nacme,2024-05-01,u3,1\n",
        "org_id,day,feature,events\nacme,2024-05-01,api,2\n",
    )
    report = import_paths([fixed], session_factory)
    assert (report.days_new, report.days_replaced) == (0, 1)
    assert daily(session_factory) == [
        ("acme", D1, 2, 2, 1, dt.datetime(2024, 5, 1, 10, 0, tzinfo=UTC)),
        ("acme", D2, 3, 1, 1, dt.datetime(2024, 5, 2, 1, 30, tzinfo=UTC)),
        ("beta", D1, 4, 1, 1, dt.datetime(2024, 5, 1, 12, 0, tzinfo=UTC)),
    ]
    assert [r for r in per_user(session_factory) if r[:2] == ("acme", D1)] == [("acme", D1, "u1", 1),
                                                                               ("acme", D1, "u3", 1)]
    assert [r for r in per_feature(session_factory) if r[:2] == ("acme", D1)] == [("acme", D1, "api", 2)]


# --- raw events and rollups are never added up -------------------------------------------------

def test_raw_events_for_a_rollup_day_are_refused(session_factory, tmp_path):
    import_paths([write(tmp_path / "orgs", orgs=ORGS_CSV)], session_factory)
    import_paths([rollup_files(tmp_path / "daily")], session_factory)
    before = snapshot(session_factory)
    events = write(tmp_path / "events", usage_events="org_id,user_id,event,timestamp\n"
                                                     "acme,u1,api,2024-05-03T10:00:00Z\n"
                                                     "acme,u7,api,2024-05-02T10:00:00Z\n"
                                                     "beta,u7,api,2024-05-02T10:00:00Z\n")
    with pytest.raises(ImportRejected) as err:
        import_paths([events], session_factory)
    assert [str(e) for e in err.value.errors] == [
        f'{events}/usage_events.csv:3: timestamp: 2024-05-02 of org "acme" was imported from daily rollups; '
        "raw events can't be added to it"
    ]
    assert snapshot(session_factory) == before


def test_a_rollup_replaces_a_day_of_raw_events_whose_reimport_then_adds_nothing(session_factory, tmp_path):
    raw = write(tmp_path / "raw", orgs=ORGS_CSV, usage_events=EVENTS_CSV)
    import_paths([raw], session_factory)
    import_paths([rollup_files(tmp_path / "daily")], session_factory)
    before = snapshot(session_factory)
    again = import_paths([raw], session_factory)
    assert (again.events_new, again.events_duplicate) == (0, 8)
    assert snapshot(session_factory) == before


def test_events_and_rollups_in_one_import_or_an_incomplete_rollup_are_refused(session_factory, tmp_path):
    both = rollup_files(tmp_path / "both")
    write(both, orgs=ORGS_CSV, usage_events=EVENTS_CSV)
    with pytest.raises(InputError) as err:
        import_paths([both], session_factory)
    assert str(err.value) == ("usage events (usage_events.csv) and daily usage rollups (usage_daily.csv, "
                              "usage_daily_users.csv, usage_daily_features.csv) can't be imported together: "
                              "import one or the other")
    alone = write(tmp_path / "alone", usage_daily=DAILY_CSV)
    with pytest.raises(InputError) as err:
        import_paths([alone], session_factory)
    assert str(err.value) == ("daily usage rollups come as usage_daily.csv, usage_daily_users.csv, "
                              "usage_daily_features.csv together (missing: usage_daily_users.csv, "
                              "usage_daily_features.csv)")
    assert set(counts(session_factory).values()) == {0}


# --- files that disagree: one exact message each ------------------------------------------------

BAD_ROLLUPS = [
    ("day's events differ from its users' sum",
     {"users": USERS_CSV.replace("acme,2024-05-01,u4,1", "acme,2024-05-01,u4,2")},
     ["usage_daily.csv:2: events: 5 events, but the rows of usage_daily_users.csv add up to 6"]),
    ("a day without feature rows",
     {"features": FEATURES_CSV.replace("beta,2024-05-01,api,4\n", "")},
     ["usage_daily.csv:4: events: 4 events, but the rows of usage_daily_features.csv add up to 0"]),
    ("a user row of a day not in usage_daily",
     {"users": USERS_CSV + "beta,2024-05-02,u9,1\n"},
     ['usage_daily_users.csv:7: day: org-day "beta" 2024-05-02 is not in usage_daily.csv']),
    ("an org-day twice",
     {"daily": DAILY_CSV + "acme,2024-05-01T08:00:00Z,5,2024-05-01T15:45:10.5Z\n"},
     ['usage_daily.csv:5: day: duplicate org-day "acme" 2024-05-01 (first on line 2)']),
    ("a feature twice in one day",
     {"features": FEATURES_CSV.replace("acme,2024-05-02,reports,3", "acme,2024-05-02,reports,1\n"
                                                                  "acme,2024-05-02,reports,2")},
     ['usage_daily_features.csv:5: feature: duplicate feature "reports" on org-day "acme" 2024-05-02 '
      "(first on line 4)"]),
    ("last event on another day",
     {"daily": DAILY_CSV.replace("2024-05-02 01:30:00", "2024-05-01T23:30:00-02:00")},
     []),  # 23:30 at -02:00 is 01:30 UTC on the 2nd: fine
    ("last event off its day",
     {"daily": DAILY_CSV.replace("2024-05-02 01:30:00", "2024-05-01T23:30:00Z")},
     ["usage_daily.csv:3: last_event_at: not on 2024-05-02 (UTC)"]),
    ("an unknown org",
     {"daily": DAILY_CSV + "zzz,2024-05-01,1,2024-05-01T00:00:00Z\n",
      "users": USERS_CSV + "zzz,2024-05-01,u1,1\n", "features": FEATURES_CSV + "zzz,2024-05-01,api,1\n"},
     ['usage_daily.csv:5: org_id: unknown org "zzz" in application "default"',
      'usage_daily_users.csv:7: org_id: unknown org "zzz" in application "default"',
      'usage_daily_features.csv:6: org_id: unknown org "zzz" in application "default"']),
    ("a day without events",
     {"daily": DAILY_CSV.replace("beta,2024-05-01,4,", "beta,2024-05-01,0,")},
     ["usage_daily.csv:4: events: must be at least 1: '0'"]),
]


@pytest.mark.parametrize("files,expected", [pytest.param(f, e, id=i) for i, f, e in BAD_ROLLUPS])
def test_rollup_files_that_disagree_get_an_exact_message(session_factory, tmp_path, files, expected):
    import_paths([write(tmp_path / "orgs", orgs=ORGS_CSV)], session_factory)
    before = snapshot(session_factory)
    directory = rollup_files(tmp_path / "daily", files.get("daily", DAILY_CSV), files.get("users", USERS_CSV),
                             files.get("features", FEATURES_CSV))
    if not expected:
        import_paths([directory], session_factory)
        return
    with pytest.raises(ImportRejected) as err:
        import_paths([directory], session_factory)
    assert [str(e) for e in err.value.errors] == [f"{directory}/{e}" for e in expected]
    assert snapshot(session_factory) == before


# --- the warehouse example: rollups of the demo data give the scan the same inputs ---------------

END = dt.date(2025, 6, 2)


def warehouse_rollups(events_csv: Path, out: Path) -> Path:
    """Run the README's warehouse SQL (in DuckDB) over an events file; write the three files."""
    text = README.read_text(encoding="utf-8")
    sql = re.search(r"```sql title=warehouse\n(.*?)```", text, flags=re.S)
    assert sql is not None
    con = duckdb.connect()
    con.execute(f"""CREATE TABLE raw_events AS SELECT org_id, user_id, event,
        CAST(replace("timestamp", 'Z', '') AS TIMESTAMP) AS ts, CAST(nullif("count", '') AS INTEGER) AS "count",
        nullif(event_id, '') AS event_id FROM read_csv('{events_csv}', all_varchar = true)""")
    out.mkdir(parents=True, exist_ok=True)
    for statement in filter(str.strip, sql.group(1).split(";")):
        target = re.match(r"\s*-- (\S+\.csv)", statement)
        if target:
            con.execute(f"COPY ({statement}) TO '{out / target.group(1)}' (HEADER true)")
        else:
            con.execute(statement)
    return out


def scan_inputs(factory, application: str = "default") -> tuple[pd.DataFrame, pd.Series]:
    with factory() as s:
        app_id = s.scalar(select(Application.id).where(Application.name == application))
        windows = usage_windows(s, app_id, END, Config()).sort_index()
        seen = last_seen_by_org(s, app_id, dt.datetime(2025, 6, 2, 23, 0, tzinfo=UTC)).sort_index()
    return windows, seen


def usage_rows(factory) -> dict[str, list[tuple]]:
    return {k: v for k, v in snapshot(factory).items() if k.startswith("usage_daily")}


def test_warehouse_rollups_of_the_demo_data_give_the_scan_the_same_inputs(session_factory, tmp_path):
    data = tmp_path / "data"
    generate_demo_data(data, orgs=60, days=40, seed=7, end_date=END)
    import_paths([data], session_factory)
    raw_windows, raw_seen = scan_inputs(session_factory)
    raw_rows = usage_rows(session_factory)
    assert len(raw_rows["usage_daily_users"]) > 1000

    with session_factory.begin() as s:  # start over with the same orgs, no usage
        for model in (UsageDailyUser, UsageDailyFeature, UsageDaily, EventKeyBlock):
            s.execute(delete(model))
    report = import_paths([warehouse_rollups(data / "usage_events.csv", tmp_path / "rollups")], session_factory)

    assert report.days_new == len(raw_rows["usage_daily"])
    assert usage_rows(session_factory) == raw_rows
    windows, seen = scan_inputs(session_factory)
    pd.testing.assert_frame_equal(windows, raw_windows)
    pd.testing.assert_series_equal(seen, raw_seen)


def test_cli_summarises_a_rollup_import(db_url, session_factory, tmp_path):
    from test_import import _invoke

    import_paths([write(tmp_path / "orgs", orgs=ORGS_CSV)], session_factory)
    files = rollup_files(tmp_path / "daily")
    for expected in ("3 new, 0 replaced", "0 new, 3 replaced"):
        result = _invoke(db_url, tmp_path, str(files))
        assert result.exit_code == 0, result.output
        assert result.stdout.splitlines()[0] == (
            f"daily usage                 3 org-days (5 user rows, 4 feature rows): {expected}")


# --- Parquet rollups: the same contract, rows instead of lines -----------------------------------

def _typed_rollups(directory: Path, daily_csv: str = DAILY_CSV) -> Path:
    """The three rollup files as Parquet with real types: DATE days, UTC timestamps, integers."""
    from test_import import text_frame, to_parquet

    days = text_frame(daily_csv)
    days["day"] = pd.to_datetime(days["day"]).dt.date
    days["events"] = pd.to_numeric(days["events"])
    days["last_event_at"] = pd.to_datetime(days["last_event_at"], utc=True, format="ISO8601")
    to_parquet(directory, "usage_daily", days)
    for name, text in (("usage_daily_users", USERS_CSV), ("usage_daily_features", FEATURES_CSV)):
        frame = text_frame(text)
        frame["day"] = pd.to_datetime(frame["day"]).dt.date
        frame["events"] = pd.to_numeric(frame["events"])
        to_parquet(directory, name, frame)
    return directory


def test_parquet_rollups_import_like_their_csv(session_factory, tmp_path):
    import_paths([write(tmp_path / "orgs", orgs=ORGS_CSV)], session_factory)
    report = import_paths([_typed_rollups(tmp_path / "pq")], session_factory)
    assert (report.daily_rows, report.daily_user_rows, report.daily_feature_rows) == (3, 5, 4)
    parquet_rows = usage_rows(session_factory)
    again = import_paths([_typed_rollups(tmp_path / "pq")], session_factory)
    assert (again.days_new, again.days_replaced) == (0, 3)
    assert usage_rows(session_factory) == parquet_rows
    assert daily(session_factory)[0] == ("acme", D1, 5, 3, 2, dt.datetime(2024, 5, 1, 15, 45, 10, 500000, tzinfo=UTC))
    assert per_user(session_factory)[-1] == ("beta", D1, "u9", 4)
    assert per_feature(session_factory)[-1] == ("beta", D1, "api", 4)


def test_bad_parquet_rollup_rows_are_reported_by_row(session_factory, tmp_path):
    import_paths([write(tmp_path / "orgs", orgs=ORGS_CSV)], session_factory)
    before = snapshot(session_factory)
    directory = _typed_rollups(tmp_path / "pq", DAILY_CSV.replace("beta,2024-05-01,4,", "beta,2024-05-01,0,"))
    with pytest.raises(ImportRejected) as err:
        import_paths([directory], session_factory)
    assert [str(e) for e in err.value.errors] == [
        f"{directory}/usage_daily.parquet:row 3: events: must be at least 1: '0'"]
    assert snapshot(session_factory) == before
