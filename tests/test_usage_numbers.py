"""The numbers the rollups are keyed by (``storage.usage_numbers``): given once per name, in
byte order within a file, never changed by a later import, shared by the events and the
daily rollup imports, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from storage.importer import import_paths
from storage.models import UsageDailyFeature, UsageDailyUser, UsageFeature, UsageOrg, UsageUser
from test_import import EVENTS_CSV, ORGS_CSV, write
from usage_rows import per_feature, per_user

# test_import.EVENTS_CSV's names: orgs acme and beta; users u1-u4 of acme, u9 of beta;
# features api, dashboards, exports, reports.
FIRST_ORGS = [(1, "acme"), (2, "beta")]
FIRST_USERS = [(1, 1, "u1"), (2, 1, "u2"), (3, 1, "u3"), (4, 1, "u4"), (5, 2, "u9")]
FIRST_FEATURES = [(1, "api"), (2, "dashboards"), (3, "exports"), (4, "reports")]


def dictionaries(factory: sessionmaker[Session]) -> tuple[list, list, list]:
    with factory() as s:
        orgs = [tuple(r) for r in s.execute(select(UsageOrg.org_key, UsageOrg.org_id).order_by(UsageOrg.org_key))]
        users = [tuple(r) for r in s.execute(
            select(UsageUser.user_key, UsageUser.org_key, UsageUser.user_id).order_by(UsageUser.user_key))]
        features = [tuple(r) for r in s.execute(
            select(UsageFeature.feature_key, UsageFeature.feature).order_by(UsageFeature.feature_key))]
    return orgs, users, features


def keyed_rows(factory: sessionmaker[Session]) -> tuple[list, list]:
    """The per-user and per-feature rows as stored: by number."""
    with factory() as s:
        u, f = UsageDailyUser, UsageDailyFeature
        users = [tuple(r) for r in s.execute(select(u.org_key, u.day, u.user_key, u.events).order_by(
            u.org_key, u.day, u.user_key))]
        features = [tuple(r) for r in s.execute(select(f.org_key, f.day, f.feature_key, f.events).order_by(
            f.org_key, f.day, f.feature_key))]
    return users, features


def test_a_first_import_numbers_each_name_once_in_byte_order(session_factory, tmp_path: Path) -> None:
    import_paths([write(tmp_path, orgs=ORGS_CSV, usage_events=EVENTS_CSV)], session_factory)
    assert dictionaries(session_factory) == (FIRST_ORGS, FIRST_USERS, FIRST_FEATURES)
    users, features = keyed_rows(session_factory)
    # acme's u1 (number 1) on 2024-05-01: e1 once (the repeat is one event) and 2 exports.
    assert {(org, user, events) for org, day, user, events in users if day.isoformat() == "2024-05-01"} == {
        (1, 1, 3), (1, 3, 1), (1, 4, 1), (2, 5, 4)}  # u2 (2): 05-02 in UTC only
    assert {k for _, _, k, _ in features} == {1, 2, 3, 4}


def test_later_names_get_the_next_numbers_and_earlier_ones_keep_theirs(session_factory, tmp_path: Path) -> None:
    import_paths([write(tmp_path / "a", orgs=ORGS_CSV, usage_events=EVENTS_CSV)], session_factory)
    rows_before = keyed_rows(session_factory)
    # A new day (none of its org-days stored) with a known user, a user of acme whose id
    # sorts first, beta's own "u1" (another user than acme's) and a new feature, then more
    # events on a day already stored, with yet another new user.
    later = ("org_id,user_id,event,timestamp,count,event_id\n"
             "acme,u1,reports,2024-05-03T10:00:00Z,1,n1\n"
             "acme,u0,alerts,2024-05-03T11:00:00Z,2,n2\n"
             "beta,u1,api,2024-05-03T12:00:00Z,1,n3\n")
    import_paths([write(tmp_path / "b", usage_events=later)], session_factory)
    more = ("org_id,user_id,event,timestamp,count,event_id\n"
            "acme,u7,dashboards,2024-05-01T13:00:00Z,1,n4\n"
            "acme,u1,alerts,2024-05-01T14:00:00Z,1,n5\n")
    import_paths([write(tmp_path / "c", usage_events=more)], session_factory)

    orgs, users, features = dictionaries(session_factory)
    assert orgs == FIRST_ORGS
    # New names numbered after the stored ones, in byte order among the file's new names.
    assert users == FIRST_USERS + [(6, 1, "u0"), (7, 2, "u1"), (8, 1, "u7")]
    assert features == FIRST_FEATURES + [(5, "alerts")]
    users_after, features_after = keyed_rows(session_factory)
    assert set(rows_before[0]) - set(users_after) == {r for r in rows_before[0] if r[1].isoformat() == "2024-05-01"
                                                      and r[2] == 1}  # acme's u1 on 05-01 got one more event
    by_name = {(org, day.isoformat(), user): n for org, day, user, n in per_user(session_factory)}
    assert by_name[("acme", "2024-05-01", "u1")] == 4
    assert by_name[("acme", "2024-05-01", "u7")] == 1
    assert by_name[("acme", "2024-05-03", "u0")] == 2
    assert by_name[("beta", "2024-05-03", "u1")] == 1
    assert by_name[("acme", "2024-05-03", "u1")] == 1
    assert (1, "2024-05-03", 5, 2) in {(o, d.isoformat(), f, n) for o, d, f, n in features_after}
    feature_names = {(org, day.isoformat(), feature): n for org, day, feature, n in per_feature(session_factory)}
    assert feature_names[("acme", "2024-05-01", "alerts")] == 1
    assert feature_names[("acme", "2024-05-03", "alerts")] == 2


def test_importing_a_file_again_changes_no_number_and_no_row(session_factory, tmp_path: Path) -> None:
    import_paths([write(tmp_path / "a", orgs=ORGS_CSV, usage_events=EVENTS_CSV)], session_factory)
    before = dictionaries(session_factory), keyed_rows(session_factory)
    import_paths([write(tmp_path / "b", usage_events=EVENTS_CSV)], session_factory)
    assert (dictionaries(session_factory), keyed_rows(session_factory)) == before


def test_daily_rollup_files_use_the_numbers_the_events_gave(session_factory, tmp_path: Path) -> None:
    import_paths([write(tmp_path / "a", orgs=ORGS_CSV, usage_events=EVENTS_CSV)], session_factory)
    files = write(tmp_path / "daily",
                  usage_daily="org_id,day,events,last_event_at\nacme,2024-05-05,3,2024-05-05T10:00:00Z\n",
                  usage_daily_users="org_id,day,user_id,events\nacme,2024-05-05,u2,1\nacme,2024-05-05,u5,2\n",
                  usage_daily_features="org_id,day,feature,events\nacme,2024-05-05,reports,1\n"
                                       "acme,2024-05-05,search,2\n")
    import_paths([files], session_factory)
    orgs, users, features = dictionaries(session_factory)
    assert (orgs, users, features) == (FIRST_ORGS, FIRST_USERS + [(6, 1, "u5")], FIRST_FEATURES + [(5, "search")])
    users_rows, feature_rows = keyed_rows(session_factory)
    assert [r for r in users_rows if r[1] == dt.date(2024, 5, 5)] == [
        (1, dt.date(2024, 5, 5), 2, 1), (1, dt.date(2024, 5, 5), 6, 2)]
    assert {(k, n) for _, d, k, n in feature_rows if d.isoformat() == "2024-05-05"} == {(4, 1), (5, 2)}


def test_names_with_commas_and_quotes_are_found_again_by_a_later_import(session_factory, tmp_path: Path) -> None:
    """The stored numbers are read back as CSV on PostgreSQL (``storage.staging.stored_arrow``):
    a name needing quotes must still match itself, or it would get a second number."""
    header = "org_id,user_id,event,timestamp,count,event_id\n"
    first = header + 'acme,"u,1",report,2024-05-01T09:00:00Z,1,a1\nacme,"say ""hi""","x,y",2024-05-01T10:00:00Z,1,a2\n'
    later = header + 'acme,"u,1","x,y",2024-05-02T09:00:00Z,1,b1\nacme,"say ""hi""",report,2024-05-02T10:00:00Z,1,b2\n'
    import_paths([write(tmp_path / "a", orgs=ORGS_CSV, usage_events=first)], session_factory)
    import_paths([write(tmp_path / "b", usage_events=later)], session_factory)
    orgs, users, features = dictionaries(session_factory)
    assert orgs == [(1, "acme")]
    assert users == [(1, 1, 'say "hi"'), (2, 1, "u,1")]
    assert features == [(1, "report"), (2, "x,y")]
    assert {(user, day.isoformat()) for _, day, user, _ in keyed_rows(session_factory)[0]} == {
        (1, "2024-05-01"), (2, "2024-05-01"), (1, "2024-05-02"), (2, "2024-05-02")}
