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

from sqlalchemy import func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from storage.staging import check_dialect

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
        # render_nulls: otherwise the ORM groups rows by which values are None and sends
        # one small executemany per group.
        session.execute(insert(model).execution_options(render_nulls=True), new_rows)
    if changed:
        session.execute(update(model), changed)
    counts.inserted, counts.updated = len(new_rows), len(changed)
    counts.unchanged = len(rows) - len(new_rows) - len(changed)
    return counts


def insert_missing(session: Session, model: type, rows: Sequence[dict[str, Any]], unique: Sequence[str]) -> TableCounts:
    """Insert rows whose ``unique`` columns are not stored yet (rows without an id of their
    own, like survey responses); the others count as unchanged."""
    counts = TableCounts(rows=len(rows))
    if not rows:
        return counts
    dialect = check_dialect(session.connection())
    insert_fn = sqlite.insert if dialect == "sqlite" else postgresql.insert
    table = model.__table__  # type: ignore[attr-defined]
    before = session.scalar(select(func.count()).select_from(table)) or 0
    stmt = insert_fn(table).on_conflict_do_nothing(index_elements=[table.c[c] for c in unique])
    session.execute(stmt, list(rows))
    after = session.scalar(select(func.count()).select_from(table)) or 0
    counts.inserted = after - before
    counts.unchanged = len(rows) - counts.inserted
    return counts
