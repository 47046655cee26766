"""The numbers the usage rollups are keyed by: one per org, per user of an org, per feature.

The rollup tables (``usage_daily``, ``usage_daily_users``, ``usage_daily_features``) key
their rows by integers instead of names: every row and index entry is shorter, so an
import writes and indexes fewer bytes and a scan groups integers, joining the names to
its grouped result. The dictionaries ``usage_orgs``, ``usage_users`` and
``usage_features`` give each name its number once, for good: a number never changes and
never goes to another name, so rows stored by one import and added to by the next agree.

Both imports (events and daily rollups) number the names of a file the same way, in their
DuckDB scratch database (``storage.reader.WorkDB``): the stored numbers of the file's
names are looked up, and names not stored yet get the next numbers, in byte order of the
names (``max + rank``), and are stored. Imports run one at a time (they hold the event
keys' lock, ``storage.event_keys.KeyStore``, from before they number anything until they
commit), so two imports can't give one number to two names.

Each step leaves a DuckDB table of the file's names and their numbers:
``num_orgs (org_id, org_key)``, ``num_users (org_id, user_id, org_key, user_key)``,
``num_features (feature, feature_key)``, and says whether every name was new
(``Numbered.all_new``): then each name's number is its rank among the file's names plus
the largest number stored before (``Numbered.first - 1``), which the events import uses
instead of a join.

The new names are stored at once, or, given ``later`` (PostgreSQL), by a function appended
to it that the caller runs on any thread once its connection is free: the events import
puts it at the head of its chain of COPYs (``storage.event_import``), so the server writes
the dictionaries while DuckDB groups the rollups.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from sqlalchemy import Column, Integer, Select, Table, func, select
from sqlalchemy.engine import Connection

from storage.models import UsageFeature, UsageOrg, UsageUser
from storage.reader import WorkDB
from storage.staging import (COPY_BATCH_ROWS, check_dialect, copy_batches, copy_from_duckdb, copy_typed,
                             create_temp_table, drop_temp_table, duckdb_batches, insert_from_duckdb, insert_rows,
                             key_dropped_while_empty, loading_into, stored_arrow, temp_table)

ORGS: Table = UsageOrg.__table__  # type: ignore[assignment]
USERS: Table = UsageUser.__table__  # type: ignore[assignment]
FEATURES: Table = UsageFeature.__table__  # type: ignore[assignment]
# The stored numbers as they are read into DuckDB (``_read_stored``).
_ORG_NUMBERS = pa.schema([("org_id", pa.string()), ("org_key", pa.int32())])
_USER_NUMBERS = pa.schema([("org_key", pa.int32()), ("user_id", pa.string()), ("user_key", pa.int32())])
_FEATURE_NUMBERS = pa.schema([("feature", pa.string()), ("feature_key", pa.int32())])

# Functions storing new names, for the caller to run (module docstring); each returns what
# adds back the indexes it dropped to load an empty dictionary, for the caller to run once
# it has loaded everything else (``storage.staging.key_dropped_while_empty``).
Later = list[Callable[[], Callable[[], None]]]


@dataclass(frozen=True)
class Numbered:
    """What numbering a file's names of one kind found: how many names, how many of them
    new, and the first new number (the largest stored before, plus one)."""

    names: int
    new: int
    first: int

    @property
    def all_new(self) -> bool:
        return self.new == self.names


def number_orgs(conn: Connection, work: WorkDB, names: str, later: Later | None = None) -> Numbered:
    """DuckDB table ``num_orgs (org_id, org_key)`` for the distinct org ids of DuckDB query
    ``names`` (one column, ``org_id``); new ones numbered and stored."""
    return _number_names(conn, work, ORGS, _ORG_NUMBERS, "orgs", names, later)


def number_users(conn: Connection, work: WorkDB, names: str, later: Later | None = None) -> Numbered:
    """DuckDB table ``num_users (org_id, user_id, org_key, user_key)`` for the distinct
    (org_id, user_id) pairs of DuckDB query ``names``, their orgs numbered already
    (``number_orgs``); new ones numbered and stored. Only the file's orgs' stored users are
    read."""
    con = work.con
    con.execute(f"""CREATE OR REPLACE TABLE file_users AS
        SELECT n.org_id, n.user_id, o.org_key FROM (SELECT DISTINCT org_id, user_id FROM ({names})) n
        JOIN num_orgs o USING (org_id)""")
    first = _next_number(conn, USERS.c.user_key)
    con.execute("CREATE OR REPLACE TABLE stored_users (org_key INTEGER, user_id VARCHAR, user_key INTEGER)")
    if first > 1:
        _read_stored_users(conn, work)
    con.execute(f"""CREATE OR REPLACE TABLE num_users AS
        SELECT f.org_id, f.user_id, f.org_key, s.user_key FROM file_users f JOIN stored_users s USING (org_key, user_id)
        UNION ALL
        SELECT f.org_id, f.user_id, f.org_key,
               CAST({first - 1} + row_number() OVER (ORDER BY f.org_id, f.user_id) AS INTEGER) AS user_key
        FROM file_users f ANTI JOIN stored_users s USING (org_key, user_id)""")
    return _store_new(conn, work, USERS, "num_users", ["user_key", "org_key", "user_id"], "user_key", first,
                      "file_users", later)


def number_features(conn: Connection, work: WorkDB, names: str, later: Later | None = None) -> Numbered:
    """DuckDB table ``num_features (feature, feature_key)`` for the distinct features of
    DuckDB query ``names`` (one column, ``feature``); new ones numbered and stored."""
    return _number_names(conn, work, FEATURES, _FEATURE_NUMBERS, "features", names, later)


def _number_names(conn: Connection, work: WorkDB, table: Table, numbers: pa.Schema, kind: str, names: str,
                  later: Later | None) -> Numbered:
    """``number_orgs`` and ``number_features``: a dictionary of one name column and its
    number (``numbers``: name, key), DuckDB tables ``file_<kind>``, ``stored_<kind>`` and
    ``num_<kind>``."""
    name, key = numbers.names
    con = work.con
    con.execute(f"CREATE OR REPLACE TABLE file_{kind} AS SELECT DISTINCT {name} FROM ({names})")
    first = _next_number(conn, table.c[key])
    con.execute(f"CREATE OR REPLACE TABLE stored_{kind} ({name} VARCHAR, {key} INTEGER)")
    if first > 1:
        _read_stored(conn, work, select(table.c[name], table.c[key]), numbers, f"stored_{kind}",
                     semi_join=f"SEMI JOIN file_{kind} USING ({name})")
    con.execute(f"""CREATE OR REPLACE TABLE num_{kind} AS
        SELECT {name}, {key} FROM stored_{kind}
        UNION ALL
        SELECT {name}, CAST({first - 1} + row_number() OVER (ORDER BY {name}) AS INTEGER) AS {key}
        FROM file_{kind} ANTI JOIN stored_{kind} USING ({name})""")
    return _store_new(conn, work, table, f"num_{kind}", [key, name], key, first, f"file_{kind}", later)


def _next_number(conn: Connection, key: Column) -> int:
    return int(conn.execute(select(func.coalesce(func.max(key), 0))).scalar_one()) + 1


def _read_stored(conn: Connection, work: WorkDB, query: Select, schema: pa.Schema, table: str,
                 semi_join: str) -> None:
    """Append the rows of a stored dictionary's ``query`` (columns as in ``schema``) whose
    names the file has (DuckDB ``semi_join``) to DuckDB table ``table``, read as Arrow
    (``storage.staging.stored_arrow``). The orgs' and the features' dictionaries are small
    (one row per org or feature), so they are read whole."""
    work.con.register("stored_chunk", stored_arrow(conn, query, schema))
    try:
        work.con.execute(f"INSERT INTO {table} SELECT {', '.join(schema.names)} FROM stored_chunk {semi_join}")
    finally:
        work.con.unregister("stored_chunk")


def _read_stored_users(conn: Connection, work: WorkDB) -> None:
    """The stored users of the file's orgs that were stored already (their users can't be
    stored otherwise) into DuckDB table ``stored_users``."""
    keys = work.con.execute(
        "SELECT DISTINCT org_key FROM file_users SEMI JOIN stored_orgs USING (org_key)").fetchnumpy()["org_key"]
    if len(keys) == 0:
        return
    orgs = temp_table("import_numbered_orgs", Column("org_key", Integer))
    create_temp_table(conn, orgs)
    insert_rows(conn, orgs, ["org_key"], [np.asarray(keys, dtype=np.int64).tolist()])
    query = select(USERS.c.org_key, USERS.c.user_id, USERS.c.user_key).join(orgs, orgs.c.org_key == USERS.c.org_key)
    _read_stored(conn, work, query, _USER_NUMBERS, "stored_users",
                 semi_join="SEMI JOIN file_users USING (org_key, user_id)")
    drop_temp_table(conn, orgs)


def _store_new(conn: Connection, work: WorkDB, table: Table, numbered: str, names: list[str], key: str,
               first: int, file_names: str, later: Later | None) -> Numbered:
    """Store the rows of DuckDB table ``numbered`` numbered ``first`` or later (the new
    names), now or by a function appended to ``later`` (module docstring); returns the
    counts."""
    total = work.count(file_names)
    new = int(work.value(f"SELECT count(*) FROM {numbered} WHERE {key} >= {first}"))
    query = f"SELECT {', '.join(names)} FROM {numbered} WHERE {key} >= {first} ORDER BY {key}"
    if new and later is not None and check_dialect(conn) == "postgresql":
        staged = f"new_{numbered}"
        work.con.execute(f"CREATE OR REPLACE TABLE {staged} AS {copy_typed(table, names, query)}")
        cursor = work.con.cursor()

        def store() -> Callable[[], None]:
            with cursor:
                add_keys_back = key_dropped_while_empty(conn, table)
                copy_batches(conn, table, names, duckdb_batches(cursor, f"SELECT * FROM {staged}", COPY_BATCH_ROWS))
                cursor.execute(f"DROP TABLE {staged}")
            return add_keys_back

        later.append(store)
    elif new and check_dialect(conn) == "postgresql":
        with loading_into(conn, table):
            copy_from_duckdb(conn, table, names, work.con, query)
    elif new:
        insert_from_duckdb(conn, table, names, work.con, query)
    return Numbered(names=total, new=new, first=first)
