"""Rolling new usage events into the daily tables a scan reads (docs/inputs.md).

Per chunk of *new* events (already de-duplicated by ``storage.event_keys``) pandas groups
by (org, UTC day), (org, day, user) and (org, day, feature). Each result is bulk-loaded into
a staging table and merged with one ``INSERT ... SELECT ... ON CONFLICT DO UPDATE`` that adds
to what is stored (``events = usage_daily.events + excluded.events``), so chunks and imports
simply accumulate, on SQLite and PostgreSQL alike.

Distinct users and features per day can't be added up chunk by chunk (the same user shows
up in two chunks), so ``usage_daily.active_users`` / ``distinct_features`` are recomputed
at the end, for the touched (org, day) rows only, from the per-user and per-feature tables.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import BigInteger, Column, Date, String, Table, case, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from storage.csv_contract import ID_MAX_LEN
from storage.models import UsageDaily, UsageDailyFeature, UsageDailyUser, UTCDateTime
from storage.staging import check_dialect, create_temp_table, drop_temp_table, load, temp_table

DAILY: Table = UsageDaily.__table__  # type: ignore[assignment]
USERS: Table = UsageDailyUser.__table__  # type: ignore[assignment]
FEATURES: Table = UsageDailyFeature.__table__  # type: ignore[assignment]


def rollup(events: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Group events (columns org_id, user_id, event, timestamp, count) into the three tables'
    rows for this chunk. ``day`` is the UTC calendar day of the timestamp."""
    frame = events.assign(day=events["timestamp"].dt.floor("D"))
    daily = (
        frame.groupby(["org_id", "day"], sort=True)
        .agg(events=("count", "sum"), last_event_at=("timestamp", "max"))
        .reset_index()
    )
    users = frame.groupby(["org_id", "day", "user_id"], sort=True)["count"].sum().reset_index(name="events")
    features = (
        frame.groupby(["org_id", "day", "event"], sort=True)["count"].sum().reset_index(name="events")
        .rename(columns={"event": "feature"})
    )
    return daily, users, features


def _as_dates(days: pd.Series) -> list[Any]:
    """UTC midnights → ``datetime.date`` objects, converting each distinct day once."""
    codes, uniques = pd.factorize(days)
    dates = np.array([d.date() for d in uniques], dtype=object)
    return dates[codes].tolist()


def _as_naive_utc(times: pd.Series) -> list[Any]:
    """tz-aware UTC → naive UTC ``datetime`` objects (what ``UTCDateTime`` stores)."""
    naive = times.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy().astype("datetime64[us]")
    return naive.astype(object).tolist()


def _stage(name: str, third: Column | None) -> Table:
    cols = [Column("org_id", String(ID_MAX_LEN)), Column("day", Date)]
    if third is not None:
        cols.append(third)
    cols.append(Column("events", BigInteger))
    if third is None:
        cols.append(Column("last_event_at", UTCDateTime()))
    return temp_table(name, *cols)


class RollupWriter:
    """Adds chunk rollups to the daily tables and remembers which (org, day) rows it touched."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        insert_fn = sqlite.insert if check_dialect(conn) == "sqlite" else postgresql.insert
        self.stage_daily = _stage("import_stage_daily", None)
        self.stage_users = _stage("import_stage_users", Column("user_id", String(ID_MAX_LEN)))
        self.stage_features = _stage("import_stage_features", Column("feature", String(ID_MAX_LEN)))
        self.touched = temp_table(
            "import_touched_days",
            Column("org_id", String(ID_MAX_LEN), primary_key=True),
            Column("day", Date, primary_key=True),
        )
        for table in self._temp_tables:
            create_temp_table(conn, table)

        src = self.stage_daily.c
        # Every SELECT below has a WHERE for SQLite's parser ("INSERT ... SELECT ... ON
        # CONFLICT" is ambiguous without one); the condition is always true.
        ins = insert_fn(DAILY).from_select(
            ["org_id", "day", "events", "active_users", "distinct_features", "last_event_at"],
            select(src.org_id, src.day, src.events, 0, 0, src.last_event_at).where(src.events.is_not(None)),
        )
        later = or_(DAILY.c.last_event_at.is_(None), ins.excluded.last_event_at > DAILY.c.last_event_at)
        self._merge_daily = ins.on_conflict_do_update(
            index_elements=[DAILY.c.org_id, DAILY.c.day],
            set_={
                "events": DAILY.c.events + ins.excluded.events,
                "last_event_at": case((later, ins.excluded.last_event_at), else_=DAILY.c.last_event_at),
            },
        )
        self._merge_users = self._additive(insert_fn, USERS, self.stage_users, "user_id")
        self._merge_features = self._additive(insert_fn, FEATURES, self.stage_features, "feature")
        self._touch = (
            insert_fn(self.touched)
            .from_select(["org_id", "day"], select(src.org_id, src.day).where(src.events.is_not(None)))
            .on_conflict_do_nothing()
        )

    @property
    def _temp_tables(self) -> tuple[Table, ...]:
        return (self.stage_daily, self.stage_users, self.stage_features, self.touched)

    @staticmethod
    def _additive(insert_fn: Any, table: Table, stage: Table, third: str) -> Any:
        src = stage.c
        ins = insert_fn(table).from_select(
            ["org_id", "day", third, "events"],
            select(src.org_id, src.day, src[third], src.events).where(src.events.is_not(None)),
        )
        return ins.on_conflict_do_update(
            index_elements=[table.c.org_id, table.c.day, table.c[third]],
            set_={"events": table.c.events + ins.excluded.events},
        )

    def add(self, events: pd.DataFrame) -> None:
        if events.empty:
            return
        daily, users, features = rollup(events)
        load(self.conn, self.stage_daily, [
            daily["org_id"].tolist(), _as_dates(daily["day"]), daily["events"].tolist(),
            _as_naive_utc(daily["last_event_at"]),
        ])
        load(self.conn, self.stage_users, [
            users["org_id"].tolist(), _as_dates(users["day"]), users["user_id"].tolist(), users["events"].tolist(),
        ])
        load(self.conn, self.stage_features, [
            features["org_id"].tolist(), _as_dates(features["day"]), features["feature"].tolist(),
            features["events"].tolist(),
        ])
        for stmt in (self._merge_daily, self._merge_users, self._merge_features, self._touch):
            self.conn.execute(stmt)

    def finish(self) -> int:
        """Recompute distinct users/features of the touched days; returns how many days."""
        t = self.touched
        users = select(func.count()).where(USERS.c.org_id == t.c.org_id, USERS.c.day == t.c.day).scalar_subquery()
        feats = select(func.count()).where(FEATURES.c.org_id == t.c.org_id, FEATURES.c.day == t.c.day).scalar_subquery()
        agg = select(t.c.org_id, t.c.day, users.label("users"), feats.label("features")).subquery("agg")
        self.conn.execute(
            update(DAILY)
            .values(active_users=agg.c.users, distinct_features=agg.c.features)
            .where(DAILY.c.org_id == agg.c.org_id, DAILY.c.day == agg.c.day)
        )
        touched = int(self.conn.execute(select(func.count()).select_from(t)).scalar_one())
        for table in self._temp_tables:
            drop_temp_table(self.conn, table)
        return touched
