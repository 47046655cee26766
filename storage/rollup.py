"""Writing daily rollups (usage_daily, usage_daily_users, usage_daily_features) from DuckDB.

The import aggregates in its DuckDB scratch database (``storage.reader.WorkDB``): the events
import from the new events of a file, the daily import straight from the rollup files. Both
leave three tables named ``<prefix>_daily``, ``<prefix>_users`` and ``<prefix>_features``
(see ``DUCK_TABLES``), and this module writes them to SQLite or PostgreSQL:

* ``add_rollups`` (raw events) adds to what is stored. An org-day not stored yet is
  inserted once, with its distinct users and features counted by DuckDB; only org-days
  already stored go through a staging table and ``INSERT ... ON CONFLICT DO UPDATE`` adding
  the new events, after which their distinct counts are recomputed from the per-user and
  per-feature rows (a user already active that day counts once).
* Rows are keyed by numbers, not names (``storage.usage_numbers``, which the importers call
  before handing their tables over). The events import's tables also carry the day as a
  number (``dayn``, days since 1970-01-01): on SQLite the new org-days are fetched with it
  and the day's text looked up in an array, one string per distinct day rather than per
  row; on PostgreSQL DuckDB hands them, sorted by key, to a binary COPY
  (``storage.staging.copy_batches``). Each table's DuckDB sort runs on a
  side thread while the table before it is written (``storage.side_thread.started_ahead``).
  A load into an empty table on PostgreSQL builds the primary key afterwards
  (``storage.staging.loading_into``).
* ``replace_rollups`` (daily files) replaces each org-day it names: its rows are deleted and
  the file's rows inserted, so importing the same files again leaves the same rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import BigInteger, Column, Date, Integer, Table, case, delete, func, or_, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from storage.models import UsageDaily, UsageDailyFeature, UsageDailyUser, UTCDateTime
from storage.reader import WorkDB
from storage.side_thread import started_ahead
from storage.staging import (
    SQLITE_BATCH_ROWS,
    check_dialect,
    COPY_BATCH_ROWS,
    copy_batches,
    copy_source,
    copy_typed,
    create_temp_table,
    drop_temp_table,
    duckdb_batches,
    duckdb_frames,
    duckdb_time,
    insert_decoded,
    insert_from_duckdb,
    key_dropped_while_empty,
    loading_into,
    temp_table,
)

DAILY: Table = UsageDaily.__table__  # type: ignore[assignment]
USERS: Table = UsageDailyUser.__table__  # type: ignore[assignment]
FEATURES: Table = UsageDailyFeature.__table__  # type: ignore[assignment]

# The DuckDB tables a rollup is handed over in, and their columns (keys: the numbers of
# ``storage.usage_numbers``; day: DATE; last_us: the day's last event, microseconds since
# the epoch, UTC). The events import's also carry ``dayn`` (``_coded_selects``).
DUCK_TABLES = {
    "daily": ("org_key", "day", "events", "last_us", "active_users", "distinct_features"),
    "users": ("org_key", "day", "user_key", "events"),
    "features": ("org_key", "day", "feature_key", "events"),
}


@dataclass
class RollupCounts:
    days: int = 0  # org-days written
    new_days: int = 0  # of which not stored before
    users: int = 0  # usage_daily_users rows given
    features: int = 0  # usage_daily_features rows given


def _selects(prefix: str, join: str, coded: bool = False) -> dict[Table, tuple[list[str], str]]:
    """Per target table: (columns, DuckDB query giving them, typed), the org-days
    restricted by ``join`` (e.g. ``ANTI JOIN known_days k USING (org_key, day)``), sorted in
    key order. ``coded``: the tables carry the day's number (``dayn``), an integer that
    sorts faster than a date and gives the same order."""
    org_day = "r.org_key, r.dayn" if coded else "r.org_key, r.day"
    return {
        DAILY: (["org_key", "day", "events", "active_users", "distinct_features", "last_event_at"],
                "SELECT r.org_key, r.day, r.events, r.active_users, r.distinct_features, make_timestamp(r.last_us) "
                f"FROM {prefix}_daily r {join} ORDER BY {org_day}"),
        USERS: (["org_key", "day", "user_key", "events"],
                f"SELECT r.org_key, r.day, r.user_key, r.events FROM {prefix}_users r {join} "
                f"ORDER BY {org_day}, r.user_key"),
        FEATURES: (["org_key", "day", "feature_key", "events"],
                   f"SELECT r.org_key, r.day, r.feature_key, r.events FROM {prefix}_features r {join} "
                   f"ORDER BY {org_day}, r.feature_key"),
    }


def _counts(work: WorkDB, prefix: str) -> RollupCounts:
    return RollupCounts(days=work.count(f"{prefix}_daily"), users=work.count(f"{prefix}_users"),
                        features=work.count(f"{prefix}_features"))


def stored_days(conn: Connection, work: WorkDB, prefix: str, days: tuple[Any, Any] | None = None) -> int:
    """Copy the stored org-days in the date range of ``<prefix>_daily`` (or ``days``, first
    and last) into DuckDB table ``known_days`` (for an import of recent days: those days
    only); returns how many."""
    lo, hi = days or work.row(f"SELECT min(day), max(day) FROM {prefix}_daily")
    work.con.execute("CREATE OR REPLACE TABLE known_days (org_key INTEGER, day DATE)")
    if lo is None:
        return 0
    result = conn.execute(select(DAILY.c.org_key, DAILY.c.day).where(DAILY.c.day >= lo, DAILY.c.day <= hi))
    total = 0
    while rows := result.fetchmany(200_000):
        frame = pd.DataFrame({"org_key": np.array([r[0] for r in rows], dtype=np.int32),
                              "day": pd.to_datetime([r[1] for r in rows])})
        work.con.register("known_chunk", frame)
        work.con.execute("INSERT INTO known_days SELECT org_key, CAST(day AS DATE) FROM known_chunk")
        work.con.unregister("known_chunk")
        total += len(rows)
    return total


def _coded_selects(prefix: str, join: str, first_day: int,
                   last_day: int) -> dict[Table, tuple[list[str], str, list[np.ndarray | None]]]:
    """Like ``_selects`` for rollup tables with day numbers (``dayn``): per target table its
    columns, a DuckDB query giving the day's position in an array of the days' text, and per
    column that array (None: the value as it is). Sorted by key: primary-key order."""
    days = (np.datetime64("1970-01-01", "D") + np.arange(first_day, last_day + 1)).astype(str)
    day_text = np.asarray(days, dtype=object)
    day = f"r.dayn - {first_day}"
    return {
        DAILY: (["org_key", "day", "events", "active_users", "distinct_features", "last_event_at"],
                f"SELECT r.org_key, {day}, r.events, r.active_users, r.distinct_features, "
                f"{duckdb_time('r.last_us')} FROM {prefix}_daily r {join} ORDER BY r.org_key, r.dayn",
                [None, day_text, None, None, None, None]),
        USERS: (["org_key", "day", "user_key", "events"],
                f"SELECT r.org_key, {day}, r.user_key, r.events FROM {prefix}_users r {join} "
                "ORDER BY r.org_key, r.dayn, r.user_key",
                [None, day_text, None, None]),
        FEATURES: (["org_key", "day", "feature_key", "events"],
                   f"SELECT r.org_key, {day}, r.feature_key, r.events FROM {prefix}_features r {join} "
                   "ORDER BY r.org_key, r.dayn, r.feature_key",
                   [None, day_text, None, None]),
    }


def add_rollups(conn: Connection, work: WorkDB, prefix: str, coded: bool = False,
                known: int | None = None) -> RollupCounts:
    """Add the rollup of new events to the stored one (see the module docstring). ``coded``:
    the tables also carry day numbers (``dayn``), which SQLite's inserts use.
    ``known``: ``stored_days`` was called already for these days and found that many."""
    counts = _counts(work, prefix)
    if counts.days == 0:
        return counts
    known = stored_days(conn, work, prefix) if known is None else known
    if known:
        _merge_stored(conn, work, prefix)
    new_only = "ANTI JOIN known_days k USING (org_key, day)" if known else ""
    # Each table's rows are sorted by DuckDB before the first one can be written: in the
    # events import (SQLite) and on PostgreSQL the next table's sort runs on a side thread
    # while this one's rows are written.
    if coded and check_dialect(conn) == "sqlite":
        first_day, last_day = (int(d) for d in work.row(f"SELECT min(dayn), max(dayn) FROM {prefix}_daily"))
        by_day = _coded_selects(prefix, new_only, first_day, last_day)
        sources = [duckdb_frames(work.con, query, SQLITE_BATCH_ROWS) for _, query, _ in by_day.values()]
        for (table, (names, _, decoders)), frames in zip(by_day.items(), started_ahead(sources)):
            insert_decoded(conn, table, names, frames, decoders)
    elif check_dialect(conn) == "postgresql":
        selects = _selects(prefix, new_only, coded=coded)
        batches = [copy_source(table, names, work.con, query) for table, (names, query) in selects.items()]
        for (table, (names, _)), rows in zip(selects.items(), started_ahead(batches)):
            with loading_into(conn, table):
                copy_batches(conn, table, names, rows)
    else:
        for table, (names, query) in _selects(prefix, new_only, coded=coded).items():
            insert_from_duckdb(conn, table, names, work.con, query)
    counts.new_days = int(work.value(
        f"SELECT count(*) FROM {prefix}_daily ANTI JOIN known_days USING (org_key, day)"))
    return counts


def staged_rollup_copy(conn: Connection, work: WorkDB, table: Table, prefix: str,
                       keys_later: list[Callable[[], None]]) -> Callable[[], None]:
    """PostgreSQL: one rollup table of ``prefix`` with day numbers (``dayn``) whose org-days are all
    new (``add_rollups``' way for such days), in two steps. Called, it stages the rows in
    DuckDB, named, typed and sorted in key order (this thread's work: it owns the work
    database); the function it returns COPies them as they lie, on any thread. The events
    import stages each table as soon as it is grouped and hands its COPY to a side thread,
    so the server's work, one table after the other, never waits for a sort.

    An empty table's primary key is dropped for the load (``key_dropped_while_empty``) and
    what adds it back is appended to ``keys_later``, for the caller to run once every table
    is loaded."""
    names, query = _selects(prefix, "", coded=True)[table]
    staged = f"cp_{table.name}"
    work.con.execute(f"CREATE OR REPLACE TABLE {staged} AS {copy_typed(table, names, query)}")
    cursor = work.con.cursor()

    def copy() -> None:
        with cursor:
            add_key_back = key_dropped_while_empty(conn, table)
            # In insertion order, which is key order (the work database preserves it).
            copy_batches(conn, table, names, duckdb_batches(cursor, f"SELECT * FROM {staged}", COPY_BATCH_ROWS))
            cursor.execute(f"DROP TABLE {staged}")
        keys_later.append(add_key_back)

    return copy


def replace_rollups(conn: Connection, work: WorkDB, prefix: str) -> RollupCounts:
    """Replace every org-day of ``<prefix>_daily`` with the given rows (see the module docstring)."""
    counts = _counts(work, prefix)
    if counts.days == 0:
        return counts
    known = stored_days(conn, work, prefix)
    replaced = int(work.value(
        f"SELECT count(*) FROM {prefix}_daily SEMI JOIN known_days USING (org_key, day)")) if known else 0
    if replaced:
        days = temp_table("import_replaced_days", Column("org_key", Integer), Column("day", Date))
        create_temp_table(conn, days)
        insert_from_duckdb(conn, days, ["org_key", "day"], work.con,
                           f"SELECT r.org_key, r.day FROM {prefix}_daily r "
                           "SEMI JOIN known_days USING (org_key, day)")
        replaced_days = select(days.c.org_key, days.c.day)
        for table in (USERS, FEATURES, DAILY):
            conn.execute(delete(table).where(tuple_(table.c.org_key, table.c.day).in_(replaced_days)))
        drop_temp_table(conn, days)
    for table, (names, query) in _selects(prefix, "").items():
        with loading_into(conn, table):
            insert_from_duckdb(conn, table, names, work.con, query)
    counts.new_days = counts.days - replaced
    return counts


# -- org-days already stored: added to, then recounted ------------------------------------------

def _stage(name: str, third: Column | None) -> Table:
    cols: list[Column[Any]] = [Column("org_key", Integer), Column("day", Date)]
    if third is not None:
        cols.append(third)
    cols.append(Column("events", BigInteger))
    if third is None:
        cols.append(Column("last_event_at", UTCDateTime()))
    return temp_table(name, *cols)


def _merge_stored(conn: Connection, work: WorkDB, prefix: str) -> None:
    """Add the rows of org-days already stored through staging tables and one
    ``INSERT ... SELECT ... ON CONFLICT DO UPDATE`` per table, then recount their distinct
    users and features."""
    insert_fn: Any = sqlite.insert if check_dialect(conn) == "sqlite" else postgresql.insert
    stage_daily = _stage("import_stage_daily", None)
    stage_users = _stage("import_stage_users", Column("user_key", Integer))
    stage_features = _stage("import_stage_features", Column("feature_key", Integer))
    stages = {DAILY: stage_daily, USERS: stage_users, FEATURES: stage_features}
    for stage in stages.values():
        create_temp_table(conn, stage)
    for table, (names, query) in _selects(prefix, "SEMI JOIN known_days k USING (org_key, day)").items():
        stage = stages[table]
        if table is DAILY:  # the distinct counts are recomputed below, not staged
            names = ["org_key", "day", "events", "last_event_at"]
            query = ("SELECT r.org_key, r.day, r.events, make_timestamp(r.last_us) "
                     f"FROM {prefix}_daily r SEMI JOIN known_days k USING (org_key, day)")
        insert_from_duckdb(conn, stage, names, work.con, query)
    conn.execute(_merge_daily(insert_fn, stage_daily))
    conn.execute(_additive(insert_fn, USERS, stage_users, "user_key"))
    conn.execute(_additive(insert_fn, FEATURES, stage_features, "feature_key"))
    _recount(conn, stage_daily)
    for stage in stages.values():
        drop_temp_table(conn, stage)


def _merge_daily(insert_fn: Any, stage: Table) -> Any:
    src = stage.c
    # Every SELECT below has a WHERE for SQLite's parser ("INSERT ... SELECT ... ON
    # CONFLICT" is ambiguous without one); the condition is always true.
    ins = insert_fn(DAILY).from_select(
        ["org_key", "day", "events", "active_users", "distinct_features", "last_event_at"],
        # Plain numbers are columns to SQLAlchemy; its stubs list only the literal 1.
        select(src.org_key, src.day, src.events, 0, 0,  # type: ignore[call-overload]
               src.last_event_at).where(src.events.is_not(None)),
    )
    later = or_(DAILY.c.last_event_at.is_(None), ins.excluded.last_event_at > DAILY.c.last_event_at)
    return ins.on_conflict_do_update(
        index_elements=[DAILY.c.org_key, DAILY.c.day],
        set_={
            "events": DAILY.c.events + ins.excluded.events,
            "last_event_at": case((later, ins.excluded.last_event_at), else_=DAILY.c.last_event_at),
        },
    )


def _additive(insert_fn: Any, table: Table, stage: Table, third: str) -> Any:
    src = stage.c
    ins = insert_fn(table).from_select(
        ["org_key", "day", third, "events"],
        select(src.org_key, src.day, src[third], src.events).where(src.events.is_not(None)),
    )
    return ins.on_conflict_do_update(
        index_elements=[table.c.org_key, table.c.day, table.c[third]],
        set_={"events": table.c.events + ins.excluded.events},
    )


def _recount(conn: Connection, touched: Table) -> None:
    """Distinct users and features of the ``touched`` org-days, from the per-user and
    per-feature rows: they can't be added up (the same user may be new or not)."""
    t = touched
    users = select(func.count()).where(USERS.c.org_key == t.c.org_key, USERS.c.day == t.c.day).scalar_subquery()
    feats = select(func.count()).where(FEATURES.c.org_key == t.c.org_key,
                                       FEATURES.c.day == t.c.day).scalar_subquery()
    agg = select(t.c.org_key, t.c.day, users.label("users"), feats.label("features")).subquery("agg")
    conn.execute(
        update(DAILY)
        .values(active_users=agg.c.users, distinct_features=agg.c.features)
        .where(DAILY.c.org_key == agg.c.org_key, DAILY.c.day == agg.c.day)
    )
