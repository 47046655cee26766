"""Writing the id-keyed tables (orgs, subscriptions, tickets) and survey responses.

Rows are upserted by their external id and sorted into inserted / updated / unchanged by
comparing with what is stored, so a re-import reports "0 inserted, 0 updated" and touches
nothing: the person importing can see that the second run was a no-op.

Only the columns the file carries are written on update; a column absent from the file
leaves the stored value alone (a billing export without ``owner`` must not wipe the CSM).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Table, func, select, update
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapper, Session

from storage.staging import check_dialect, create_temp_table, drop_temp_table, insert_rows, load, temp_table

FETCH_BATCH = 1000  # ids per SELECT ... IN (...) when loading stored rows to compare


@dataclass
class TableCounts:
    rows: int = 0  # valid data rows read from the file
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0


def upsert_by_id(
    session: Session,
    model: type,
    id_attr: str,
    rows: Sequence[dict[str, Any]],
    insert_defaults: dict[str, Any],
) -> TableCounts:
    """Insert new ids, update changed ones, leave equal ones alone. ``rows`` all carry the
    same keys (model attribute names) and unique ids."""
    counts = TableCounts(rows=len(rows))
    if not rows:
        return counts
    attrs = list(rows[0])
    columns = [getattr(model, a) for a in attrs]
    id_col = getattr(model, id_attr)
    stored: dict[Any, tuple[Any, ...]] = {}
    ids = [r[id_attr] for r in rows]
    for start in range(0, len(ids), FETCH_BATCH):
        batch = ids[start : start + FETCH_BATCH]
        for row in session.execute(select(*columns).where(id_col.in_(batch))):
            stored[row[attrs.index(id_attr)]] = tuple(row)

    new_rows: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    for r in rows:
        old = stored.get(r[id_attr])
        if old is None:
            new_rows.append({**insert_defaults, **r})
        elif old != tuple(r[a] for a in attrs):
            changed.append(r)
    if new_rows:
        _append(session, model, new_rows)
    if changed:
        session.execute(update(model), changed)
    counts.inserted, counts.updated = len(new_rows), len(changed)
    counts.unchanged = len(rows) - len(new_rows) - len(changed)
    return counts


def _append(session: Session, model: type, rows: list[dict[str, Any]]) -> None:
    """Insert rows (keyed by attribute name) through the bulk path of ``storage.staging``."""
    mapper: Mapper[Any] = sa_inspect(model)
    mapper_columns = mapper.columns
    attrs = list(rows[0])
    insert_rows(
        session.connection(),
        model.__table__,  # type: ignore[attr-defined]
        [mapper_columns[a].name for a in attrs],
        [[r[a] for r in rows] for a in attrs],
    )


def insert_missing(session: Session, model: type, rows: Sequence[dict[str, Any]], unique: Sequence[str]) -> TableCounts:
    """Insert rows whose ``unique`` columns are not stored yet (rows without an id of their
    own, like survey responses); the others count as unchanged. ``rows`` are keyed by
    column name and carry exactly the ``unique`` columns."""
    counts = TableCounts(rows=len(rows))
    if not rows:
        return counts
    conn = session.connection()
    insert_fn = sqlite.insert if check_dialect(conn) == "sqlite" else postgresql.insert
    table: Table = model.__table__  # type: ignore[attr-defined]
    stage = temp_table(f"import_stage_{table.name}", *[Column(c, table.c[c].type) for c in unique])
    create_temp_table(conn, stage)
    try:
        load(conn, stage, [[r[c] for r in rows] for c in unique])
        before = session.scalar(select(func.count()).select_from(table)) or 0
        # WHERE: SQLite's parser needs one in "INSERT ... SELECT ... ON CONFLICT".
        source = select(*[stage.c[c] for c in unique]).where(stage.c[unique[0]].is_not(None))
        conn.execute(
            insert_fn(table).from_select(list(unique), source)
            .on_conflict_do_nothing(index_elements=[table.c[c] for c in unique])
        )
        after = session.scalar(select(func.count()).select_from(table)) or 0
    finally:
        drop_temp_table(conn, stage)
    counts.inserted = after - before
    counts.unchanged = len(rows) - counts.inserted
    return counts
