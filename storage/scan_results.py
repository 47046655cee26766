"""A scan's own writes: the day's health snapshots, the signals it opens, updates and resolves,
and each org's segments (Revenue × Health cell, tier, case suggestion) as of the scan's day.

Every write goes through the drivers' bulk paths: ``executemany`` of plain tuples on SQLite,
on PostgreSQL a ``COPY`` of CSV that pyarrow writes a column at a time for new rows
(``storage.staging.copy_values``); changed signals by an ``executemany`` of one UPDATE on
SQLite, on PostgreSQL COPied into a temporary table and applied by one UPDATE ... FROM. The
SQLAlchemy ORM and Core executemany paths build a dictionary and run the bind processors per
value; for a scan of 100k orgs that cost more than the database's own work.

JSON columns are handed over as text, serialized a column at a time (``json_objects``): what
``json.dumps`` would write for the same values, built without a ``json.dumps`` call per value.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Boolean, Column, Table, delete, func, select, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from domain.vocabulary import STATUS_RESOLVED
from storage import queries, staging
from storage.models import HealthSnapshot, Org, OrgSegment, Signal

SNAPSHOTS: Table = HealthSnapshot.__table__  # type: ignore[assignment]
SIGNALS: Table = Signal.__table__  # type: ignore[assignment]
SEGMENTS: Table = OrgSegment.__table__  # type: ignore[assignment]
JSON_COLUMNS = {"components", "component_scores", "left_out", "usage", "evidence"}


# --- JSON text, a column at a time ----------------------------------------------------------

def _float_text(v: float) -> str:
    if v != v:
        return "null"
    if math.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    return repr(round(v, 4))


def plain(value: Any) -> Any:
    """JSON-safe Python scalars: NaN/NaT become None, numpy numbers Python numbers, floats
    rounded to 4 decimals, timestamps ISO text."""
    kind = type(value)
    if kind is float:  # the common case first: evidence is mostly Python floats
        return None if value != value else round(value, 4)
    if value is None or kind is int or kind is str or kind is bool:
        return value
    if isinstance(value, (float, np.floating)):
        return None if np.isnan(value) else round(float(value), 4)
    if isinstance(value, np.integer):
        return int(value)
    if value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value


def json_values(column: pd.Series) -> list[str]:
    """The JSON text of every value of a column, as ``json.dumps(plain(value))`` writes it:
    numbers rounded to 4 decimals, NaN as null; done for the whole column where its dtype allows."""
    if pd.api.types.is_bool_dtype(column.dtype) and not isinstance(column.dtype, pd.api.extensions.ExtensionDtype):
        return ["true" if v else "false" for v in column.to_numpy().tolist()]
    if pd.api.types.is_float_dtype(column.dtype) or (
            pd.api.types.is_integer_dtype(column.dtype)
            and not isinstance(column.dtype, pd.api.extensions.ExtensionDtype)):
        # Scores, weights and counts repeat: each distinct value is written once.
        values = column.to_numpy(dtype=float if pd.api.types.is_float_dtype(column.dtype) else None)
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
        texts = [_float_text(v) if isinstance(v, float) else str(v) for v in uniques.tolist()] + ["null"]
        return np.asarray(texts, dtype=object)[codes].tolist()
    return [json.dumps(plain(v)) for v in column.tolist()]


def json_objects(frame: pd.DataFrame, keys: Sequence[str] | None = None) -> list[str]:
    """One JSON object per row of ``frame`` ({key: value}, in column order; ``keys`` renames
    the columns), the text ``json.dumps`` writes for it."""
    keys = list(frame.columns) if keys is None else list(keys)
    if not keys:
        return ["{}"] * len(frame)
    template = "{" + ", ".join(f"{json.dumps(str(k))}: %s" for k in keys) + "}"
    columns = [json_values(frame.iloc[:, i]) for i in range(len(keys))]
    return [template % values for values in zip(*columns)]


def nested_json_objects(parts: Mapping[str, pd.DataFrame]) -> list[str]:
    """One JSON object per row: {name: {column: value}} for each (name, frame) of ``parts``
    (frames with the same rows)."""
    names = list(parts)
    # One template over every column of every part: one string formatted per row, not one
    # per part and row and then one more to join them.
    template = "{" + ", ".join(
        f"{json.dumps(n)}: " + ("{" + ", ".join(f"{json.dumps(str(k))}: %s" for k in parts[n].columns) + "}")
        for n in names) + "}"
    columns = [json_values(parts[n].iloc[:, i]) for n in names for i in range(parts[n].shape[1])]
    if not columns:
        return [template] * (len(parts[names[0]]) if names else 0)
    return [template % values for values in zip(*columns)]


def json_lists(rows: Sequence[Sequence[str]]) -> list[str]:
    """JSON arrays of strings, one per row; a handful of distinct lists, each written once."""
    memo: dict[tuple[str, ...], str] = {}
    out = []
    for row in rows:
        key = tuple(row)
        text_ = memo.get(key)
        if text_ is None:
            text_ = memo[key] = json.dumps(list(key))
        out.append(text_)
    return out


# --- bulk rows -------------------------------------------------------------------------------

def insert_rows(conn: Connection, table: Table, columns: Mapping[str, Sequence[Any]]) -> None:
    """Append rows given column-wise ({name: values}, JSON columns as text) through the
    driver's bulk path (``storage.staging.insert_rows``)."""
    staging.insert_rows(conn, table, list(columns), list(columns.values()), as_text=JSON_COLUMNS)


def _bound(conn: Connection, column: Column, values: Sequence[Any]) -> Sequence[Any]:
    """Values as SQLAlchemy would bind them (``storage.staging.bound_values``); JSON columns
    are given as text already."""
    return values if column.name in JSON_COLUMNS else staging.bound_values(conn, column, values)


def _update_rows(conn: Connection, table: Table, set_names: Sequence[str], key: str,
                 columns: Mapping[str, Sequence[Any]], extra_set: str = "") -> None:
    """UPDATE table SET name = value, … WHERE key = value for every row, one executemany."""
    names = [*set_names, key]
    converted = [_bound(conn, table.c[n], columns[n]) for n in names]
    mark = "?" if conn.dialect.name == "sqlite" else "%s"
    sets = ", ".join([f'"{n}" = {mark}' for n in set_names] + ([extra_set] if extra_set else []))
    sql = f'UPDATE "{table.name}" SET {sets} WHERE "{key}" = {mark}'
    raw = conn.connection.driver_connection
    assert raw is not None
    cur = raw.cursor()
    try:
        cur.executemany(sql, list(zip(*converted)))
    finally:
        cur.close()


def _update_signals_staged(conn: Connection, set_names: Sequence[str], columns: Mapping[str, Sequence[Any]],
                           clear_snooze: Sequence[bool]) -> None:
    """PostgreSQL: the rows COPied into a temporary table, then one UPDATE ... FROM it, the
    snooze end cleared where ``clear_snooze`` says. An executemany of one UPDATE per row was
    a statement per changed signal (23,000 at 100k orgs: 1.1 s of a next-day scan)."""
    names = [*set_names, "id"]
    stage = staging.temp_table("stage_signals_updates", *[Column(n, SIGNALS.c[n].type) for n in names],
                               Column("clear_snooze", Boolean))
    conn.exec_driver_sql(f'DROP TABLE IF EXISTS pg_temp."{stage.name}"')
    staging.create_temp_table(conn, stage)
    insert_rows(conn, stage, {**{n: columns[n] for n in names}, "clear_snooze": clear_snooze})
    sets = ", ".join([f'"{n}" = u."{n}"' for n in set_names]
                     + ['"snoozed_until" = CASE WHEN u.clear_snooze THEN NULL ELSE t."snoozed_until" END'])
    conn.exec_driver_sql(f'UPDATE "{SIGNALS.name}" AS t SET {sets} FROM "{stage.name}" AS u WHERE t.id = u.id')
    conn.exec_driver_sql(f'DROP TABLE pg_temp."{stage.name}"')


# --- snapshots -------------------------------------------------------------------------------

def replace_snapshots(session: Session, application_id: int, day: dt.date,
                      columns: Mapping[str, Sequence[Any]]) -> None:
    """The day's health snapshots of the application: the ones stored for that day (an earlier
    scan of the same day) deleted, these appended (JSON columns as text)."""
    session.execute(
        delete(HealthSnapshot).where(
            HealthSnapshot.day == day,
            HealthSnapshot.org_id.in_(select(Org.org_id).where(Org.application_id == application_id)),
        )
    )
    insert_rows(session.connection(), SNAPSHOTS, columns)


# --- signals ---------------------------------------------------------------------------------

def open_signals(session: Session, application_id: int) -> pd.DataFrame:
    """The application's signals that are not resolved (id, org_id, type, status,
    snoozed_until), locked: a dismissal racing this scan waits, and is never overwritten."""
    rows = session.execute(
        select(Signal.id, Signal.org_id, Signal.type, Signal.status, Signal.snoozed_until).where(
            Signal.application_id == application_id, Signal.status != STATUS_RESOLVED
        ).with_for_update()
    ).all()
    frame = queries.rows_frame(rows, ["id", "org_id", "type", "status", "snoozed_until"])
    frame["snoozed_until"] = pd.to_datetime(frame["snoozed_until"], utc=True)
    frame["id"] = frame["id"].astype("int64")
    return frame


def _new_ids(session: Session, n: int) -> list[int]:
    """Ids for n new signals, in order: what the database would give them one after another.

    SQLite: the next rowids (the scan holds the write lock, so nobody takes them meanwhile).
    PostgreSQL: n values of the id sequence."""
    conn = session.connection()
    if conn.dialect.name == "sqlite":
        start = int(session.scalar(select(func.coalesce(func.max(Signal.id), 0))) or 0) + 1
        return list(range(start, start + n))
    ids = session.scalars(text("SELECT nextval(pg_get_serial_sequence('signals', 'id')) "
                               "FROM generate_series(1, :n)"), {"n": n}).all()
    return sorted(int(i) for i in ids)


def insert_signals(session: Session, columns: Mapping[str, Sequence[Any]]) -> list[int]:
    """Append new signals (column-wise, ``evidence`` as JSON text); returns their ids in row order."""
    n = len(next(iter(columns.values()))) if columns else 0
    if n == 0:
        return []
    ids = _new_ids(session, n)
    insert_rows(session.connection(), SIGNALS, {"id": ids, **columns})
    return ids


def update_signals(session: Session, columns: Mapping[str, Sequence[Any]], clear_snooze: Sequence[bool]) -> None:
    """Refresh open signals by id (column-wise: id and the columns to set, ``evidence`` as JSON
    text); rows flagged in ``clear_snooze`` also lose their snooze end."""
    if not columns or len(columns["id"]) == 0:
        return
    conn = session.connection()
    set_names = [n for n in columns if n != "id"]
    flags = np.asarray(clear_snooze, dtype=bool)
    if conn.dialect.name == "postgresql":
        _update_signals_staged(conn, set_names, columns, flags.tolist())
        return
    for flag, extra in ((True, '"snoozed_until" = NULL'), (False, "")):
        picked = np.flatnonzero(flags == flag).tolist()
        if picked:
            part = {n: [columns[n][i] for i in picked] for n in columns}
            _update_rows(conn, SIGNALS, set_names, "id", part, extra)


def resolve_signals(session: Session, ids: Sequence[int], at: dt.datetime) -> None:
    if ids:
        session.execute(update(Signal).where(Signal.id.in_(list(ids))).values(status=STATUS_RESOLVED, resolved_at=at))


# --- segments --------------------------------------------------------------------------------

def replace_segments(session: Session, application_id: int, columns: Mapping[str, Sequence[Any]]) -> None:
    """Each org's segments as of the scan: the application's previous rows replaced."""
    session.execute(delete(OrgSegment).where(OrgSegment.application_id == application_id))
    insert_rows(session.connection(), SEGMENTS, columns)
