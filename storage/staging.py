"""Bulk rows for the import: staging tables loaded fast, then merged set-based.

Per-row parameter handling in the ORM/Core executemany path costs more than the database
work for millions of rollup rows, so bulk rows take the drivers' fast paths instead:
``executemany`` with plain tuples on SQLite, ``COPY`` on PostgreSQL (binary, straight from
DuckDB's Arrow batches, for rows the import computed there; CSV written by pyarrow for rows
handed over as Python columns). Large reads on PostgreSQL come back the same way, as CSV
from ``COPY ... TO STDOUT`` parsed by pyarrow. Values are converted
with the column types' own bind processors, so what lands in a table is exactly what
SQLAlchemy would have written. The same path appends new rows to ordinary tables.

The tables live only on the import's connection. PostgreSQL drops them at the end of the
transaction (ON COMMIT DROP), whatever its outcome. pysqlite runs DDL outside its implicit
transaction, so on SQLite a table left behind by an interrupted import on this pooled
connection is dropped before being created again, and dropped explicitly when done.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import closing, contextmanager
from typing import Any, TypeVar

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
from pgpq import ArrowToPostgresBinaryEncoder
from sqlalchemy import (BigInteger, Column, Date, DateTime, Integer, MetaData, Select, String, Table, TypeDecorator,
                        delete, inspect, select)
from sqlalchemy.engine import Connection

from storage.models import UTCDateTime
from storage.reader import VECTOR_ROWS

T = TypeVar("T")

SUPPORTED_DIALECTS = ("sqlite", "postgresql")


def check_dialect(conn: Connection) -> str:
    name = conn.dialect.name
    if name not in SUPPORTED_DIALECTS:
        raise NotImplementedError(f"the import supports SQLite and PostgreSQL, not {name}")
    return name


def temp_table(name: str, *columns: Column) -> Table:
    return Table(name, MetaData(), *columns, prefixes=["TEMPORARY"], postgresql_on_commit="DROP",
                 info={"temporary": True})


def create_temp_table(conn: Connection, table: Table) -> None:
    if check_dialect(conn) == "sqlite":
        conn.exec_driver_sql(f'DROP TABLE IF EXISTS temp."{table.name}"')
    table.create(conn)


def drop_temp_table(conn: Connection, table: Table) -> None:
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(f'DROP TABLE IF EXISTS temp."{table.name}"')


def load(conn: Connection, table: Table, columns: Sequence[Sequence[Any]]) -> None:
    """Replace a staging table's rows with ``columns`` (see ``insert_rows``)."""
    conn.execute(delete(table))
    insert_rows(conn, table, [c.name for c in table.columns], columns)


def insert_rows(conn: Connection, table: Table, names: Sequence[str], columns: Sequence[Sequence[Any]],
                as_text: Collection[str] = ()) -> None:
    """Append rows given column-wise (one sequence per name in ``names``; Python values:
    str, int, float, Decimal, date, datetime, None) through the driver's bulk path. The
    columns named in ``as_text`` hold what the database stores as it is (JSON already
    written as text), not bound again."""
    if not columns or len(columns[0]) == 0:
        return
    dialect = check_dialect(conn)
    converted = [values if name in as_text else bound_values(conn, table.c[name], values)
                 for name, values in zip(names, columns)]
    raw: Any = conn.connection.driver_connection
    quoted = ", ".join(f'"{n}"' for n in names)
    if dialect == "sqlite":
        target = f'temp."{table.name}"' if table.info.get("temporary") else f'"{table.name}"'
        marks = ", ".join("?" for _ in names)
        cur = raw.cursor()
        try:
            cur.executemany(f"INSERT INTO {target} ({quoted}) VALUES ({marks})", zip(*converted))
        finally:
            cur.close()
    else:
        copy_values(raw, table.name, names, converted)


def copy_values(raw: Any, table_name: str, names: Sequence[str], columns: Sequence[Sequence[Any]]) -> None:
    """PostgreSQL: append rows given column-wise (bound values: str, int, float, bool,
    Decimal, date, naive datetime, None) by one COPY of CSV text that pyarrow writes for
    whole columns. psycopg's ``write_row`` formats every value in Python: for a scan of
    100k orgs (229,000 rows of snapshots, segments and signals) 1.3 s of the client's time.

    The CSV says what PostgreSQL's CSV COPY reads back as the same values: NULL unquoted
    and empty, every string quoted (an empty string stays one), floats in their shortest
    round-trip form, NaN and infinities by name, dates and timestamps in ISO form. A column
    must hold values of one kind (numbers, or text, ...): the callers build them so, and a
    mix is a bug reported by name, not guessed at."""
    quoted = ", ".join(f'"{n}"' for n in names)
    total = len(columns[0]) if columns else 0
    with raw.cursor() as cur, cur.copy(f'COPY "{table_name}" ({quoted}) FROM STDIN (FORMAT csv)') as copy:
        for start in range(0, total, CSV_BLOCK_ROWS):
            copy.write(_csv_block(table_name, names, columns, start, CSV_BLOCK_ROWS))


# Rows per block of CSV handed to COPY: a scan's 100k snapshots are 120 MB of text, which
# written at once would be held twice (Arrow's strings and the CSV) at the scan's peak.
CSV_BLOCK_ROWS = 10_000


def _csv_block(table_name: str, names: Sequence[str], columns: Sequence[Sequence[Any]], start: int,
               rows: int) -> memoryview:
    """Rows ``start``..``start + rows`` of ``columns`` as CSV text (see ``copy_values``)."""
    arrays = []
    for name, values in zip(names, columns):
        part = values[start:start + rows]
        try:
            arrays.append(pa.array(part if isinstance(part, np.ndarray) else list(part)))
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise TypeError(f"{table_name}.{name}: values of mixed kinds ({exc})") from exc
    data = io.BytesIO()
    pa_csv.write_csv(pa.Table.from_arrays(arrays, names=[f"c{i}" for i in range(len(arrays))]), data,
                     write_options=pa_csv.WriteOptions(include_header=False, quoting_style="needed"))
    return data.getbuffer()


def stored_arrow(conn: Connection, stmt: Select, schema: pa.Schema) -> pa.Table:
    """The rows of ``stmt`` (no parameters) as an Arrow table of ``schema``, its columns in
    order, with no Python object per value on PostgreSQL: the server writes them as CSV
    (``COPY ... TO STDOUT``) and pyarrow parses it. Through SQLAlchemy's rows, 700,000
    (org, user id, number) rows took 8.6 s to reach DuckDB; this way a fraction of a
    second. On SQLite the driver's tuples are transposed into columns.

    NULL is what PostgreSQL's CSV writes for it, an unquoted empty field, and nothing else:
    an empty string (written quoted) stays one, and text such as "NA" or "null" is text."""
    sql = str(stmt.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
    raw: Any = conn.connection.driver_connection
    if check_dialect(conn) == "postgresql":
        with raw.cursor() as cur, cur.copy(f"COPY ({sql}) TO STDOUT (FORMAT csv)") as copy:
            text = b"".join(copy)  # one piece per row: joined once, not written one by one
        if not text:
            return schema.empty_table()
        return pa_csv.read_csv(
            io.BytesIO(text), read_options=pa_csv.ReadOptions(column_names=schema.names),
            parse_options=pa_csv.ParseOptions(newlines_in_values=True),
            convert_options=pa_csv.ConvertOptions(column_types=schema, null_values=[""], strings_can_be_null=True,
                                                  quoted_strings_can_be_null=False))
    cur = raw.cursor()
    try:
        rows = cur.execute(sql).fetchall()
    finally:
        cur.close()
    columns = list(zip(*rows)) if rows else [() for _ in schema]
    return pa.table([pa.array(values, type=field.type) for values, field in zip(columns, schema)], schema=schema)


# Rows per executemany call when streaming a DuckDB result into SQLite.
SQLITE_BATCH_ROWS = 100_000
# DuckDB writes dates and times in exactly the text SQLAlchemy stores on SQLite (and
# PostgreSQL parses): see ``duckdb_date`` / ``duckdb_time``.
DATE_FORMAT = "%Y-%m-%d"
TIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f"


def duckdb_date(expr: str) -> str:
    """SQL (DuckDB) turning a DATE expression into the stored date text."""
    return f"strftime({expr}, '{DATE_FORMAT}')"


def duckdb_time(micros_expr: str) -> str:
    """SQL (DuckDB) turning microseconds since the epoch (UTC) into the stored naive-UTC
    timestamp text (``UTCDateTime`` on SQLite: ``2024-05-01 09:00:00.000000``)."""
    return duckdb_time_text(f"make_timestamp({micros_expr})")


def duckdb_time_text(expr: str) -> str:
    """SQL (DuckDB) turning a TIMESTAMP (naive UTC) into the stored text (``duckdb_time``)."""
    return f"strftime({expr}, '{TIME_FORMAT}')"


def insert_from_duckdb(conn: Connection, table: Table, names: Sequence[str], duck: duckdb.DuckDBPyConnection,
                       query: str) -> None:
    """Append the rows of a DuckDB ``query`` (columns in ``names`` order, typed: DATE and
    TIMESTAMP for dates and times) to ``table`` without a Python object per value on
    PostgreSQL: binary COPY (``copy_from_duckdb``). On SQLite the rows stream through
    ``executemany`` in batches, the driver's fastest path, dates and times turned into the
    text SQLAlchemy stores by DuckDB (``duckdb_date``, ``duckdb_time``)."""
    dialect = check_dialect(conn)
    if dialect != "sqlite":
        copy_from_duckdb(conn, table, names, duck, query)
        return
    raw: Any = conn.connection.driver_connection
    quoted = ", ".join(f'"{n}"' for n in names)
    target = f'temp."{table.name}"' if table.info.get("temporary") else f'"{table.name}"'
    sql = f"INSERT INTO {target} ({quoted}) VALUES ({', '.join('?' for _ in names)})"
    result = duck.execute(_as_sqlite_text(table, names, query))
    cur = raw.cursor()
    try:
        while rows := result.fetchmany(SQLITE_BATCH_ROWS):
            cur.executemany(sql, rows)
    finally:
        cur.close()


def _as_sqlite_text(table: Table, names: Sequence[str], query: str) -> str:
    """``query`` with its date and time columns as the text SQLAlchemy writes on SQLite."""
    def text(column: str, duck_type: str) -> str:
        return (duckdb_date(column) if duck_type == "DATE" else
                duckdb_time_text(column) if duck_type == "TIMESTAMP" else column)

    return _per_column(table, names, query, text)


def _per_column(table: Table, names: Sequence[str], query: str, expr: Callable[[str, str], str]) -> str:
    """``query`` with each of its columns (by position, as ``q.c0``, ``q.c1`` ...) replaced by
    ``expr(column, DuckDB type of the target column)``."""
    exprs = [expr(f"q.c{i}", _duckdb_type(table.c[name])) for i, name in enumerate(names)]
    aliases = ", ".join(f"c{i}" for i in range(len(names)))
    return f"SELECT {', '.join(exprs)} FROM ({query}) q({aliases})"


# Rows per Arrow batch handed from DuckDB to the binary COPY encoder.
COPY_BATCH_ROWS = 122_880


def _duckdb_type(column: Column) -> str:
    """The DuckDB type whose Arrow form pgpq encodes as ``column``'s PostgreSQL type: binary
    COPY converts nothing, so an int8 sent to an int4 column is an error, not a cast."""
    col_type = column.type
    if isinstance(col_type, TypeDecorator):
        col_type = col_type.impl_instance
    for sa_type, duck_type in _DUCKDB_TYPES:
        if isinstance(col_type, sa_type):
            return duck_type
    raise NotImplementedError(f"no binary COPY mapping for {column.table.name}.{column.name} ({col_type})")


# Most specific first: BigInteger is an Integer, DateTime is not a Date.
_DUCKDB_TYPES: tuple[tuple[type, str], ...] = (
    (BigInteger, "BIGINT"), (Integer, "INTEGER"), (String, "VARCHAR"), (DateTime, "TIMESTAMP"), (Date, "DATE"),
)


def copy_from_duckdb(conn: Connection, table: Table, names: Sequence[str], duck: duckdb.DuckDBPyConnection,
                     query: str) -> None:
    """PostgreSQL: append the rows of a DuckDB ``query`` to ``table`` by binary COPY
    (``copy_batches`` of ``copy_source``)."""
    with closing(copy_source(table, names, duck, query)) as batches:
        copy_batches(conn, table, names, batches)


def copy_typed(table: Table, names: Sequence[str], query: str) -> str:
    """A DuckDB ``query`` with its columns cast to ``table``'s column types (``names``), as
    ``copy_batches`` takes them."""
    return _per_column(table, names, query, lambda column, duck_type: f"CAST({column} AS {duck_type})")


def copy_source(table: Table, names: Sequence[str], duck: duckdb.DuckDBPyConnection,
                query: str) -> CursorStream[pa.RecordBatch]:
    """The rows of a DuckDB ``query`` as Arrow batches cast to ``table``'s column types, for
    ``copy_batches``; nothing runs until the first batch is asked for."""
    return duckdb_batches(duck, copy_typed(table, names, query), COPY_BATCH_ROWS)


def copy_batches(conn: Connection, table: Table, names: Sequence[str], batches: Iterator[pa.RecordBatch]) -> None:
    """PostgreSQL: append Arrow ``batches`` (typed as ``copy_source`` gives them) to ``table``
    by binary COPY.

    pgpq encodes them in PostgreSQL's binary COPY format, so the server reads lengths and
    fixed-width values instead of parsing text, and no value becomes a Python object.
    Against DuckDB writing a CSV file for COPY to parse: 3M rollup rows 5.3 s -> 3.0 s on
    this project's 2-core machine. No batch at all: no COPY."""
    first = next(batches, None)
    if first is None:
        return
    quoted = ", ".join(f'"{n}"' for n in names)
    raw: Any = conn.connection.driver_connection
    encoder = ArrowToPostgresBinaryEncoder(first.schema)
    with raw.cursor() as cur, cur.copy(f'COPY "{table.name}" ({quoted}) FROM STDIN (FORMAT binary)') as copy:
        copy.write(encoder.write_header())
        copy.write(encoder.write_batch(first))
        for batch in batches:
            copy.write(encoder.write_batch(batch))
        copy.write(encoder.finish())


class CursorStream(Iterator[T]):
    """The results of one DuckDB query read on a cursor of its own: the stream can be started
    on another thread than the one that made it (``storage.side_thread.started_ahead``), and
    ``close`` closes the cursor even when the stream was never started."""

    def __init__(self, cursor: duckdb.DuckDBPyConnection, read: Callable[[duckdb.DuckDBPyConnection], Iterator[T]]):
        self._cursor = cursor
        self._items = read(cursor)

    def __iter__(self) -> CursorStream[T]:
        return self

    def __next__(self) -> T:
        try:
            return next(self._items)
        except StopIteration:
            self._cursor.close()
            raise

    def close(self) -> None:
        self._cursor.close()


def duckdb_batches(duck: duckdb.DuckDBPyConnection, query: str, rows: int) -> CursorStream[pa.RecordBatch]:
    """The result of a DuckDB ``query`` as Arrow batches of about ``rows`` rows."""
    def read(cursor: duckdb.DuckDBPyConnection) -> Iterator[pa.RecordBatch]:
        yield from cursor.sql(query).to_arrow_reader(rows)

    return CursorStream(duck.cursor(), read)


def duckdb_frames(duck: duckdb.DuckDBPyConnection, query: str, rows: int) -> CursorStream[pd.DataFrame]:
    """The result of a DuckDB ``query`` as pandas frames (numpy columns) of about ``rows``
    rows, in whole vectors."""
    vectors = max(1, rows // VECTOR_ROWS)

    def read(cursor: duckdb.DuckDBPyConnection) -> Iterator[pd.DataFrame]:
        cursor.execute(query)
        while len(frame := cursor.fetch_df_chunk(vectors)):
            yield frame

    return CursorStream(duck.cursor(), read)


def insert_decoded(conn: Connection, table: Table, names: Sequence[str], frames: Iterator[pd.DataFrame],
                   decoders: Sequence[np.ndarray | None]) -> None:
    """SQLite: append the rows of ``frames`` (``duckdb_frames``) to ``table``, where each
    column whose ``decoders`` entry is an array holds integer positions in it (a name by its
    code), and the others the stored values themselves. Rows come over as numpy columns, so
    a name repeated on many rows is one Python string, not one per row (fetching rows as
    tuples made a string per value and cost as much as SQLite's inserts)."""
    if check_dialect(conn) != "sqlite":
        raise NotImplementedError("decoded inserts are for SQLite; PostgreSQL copies from DuckDB")
    raw: Any = conn.connection.driver_connection
    quoted = ", ".join(f'"{n}"' for n in names)
    target = f'temp."{table.name}"' if table.info.get("temporary") else f'"{table.name}"'
    sql = f"INSERT INTO {target} ({quoted}) VALUES ({', '.join('?' for _ in names)})"
    cur = raw.cursor()
    try:
        for frame in frames:
            columns = []
            for i, decoder in enumerate(decoders):
                values = frame.iloc[:, i].to_numpy()
                columns.append((values if decoder is None else decoder[values]).tolist())
            cur.executemany(sql, zip(*columns))
    finally:
        cur.close()


@contextmanager
def loading_into(conn: Connection, table: Table) -> Iterator[None]:
    """Around a bulk load of ``table``: on PostgreSQL, when the table is empty, its primary
    key is dropped before and added back after, in the same transaction
    (``key_dropped_while_empty``)."""
    add_back = key_dropped_while_empty(conn, table)
    yield
    add_back()


def key_dropped_while_empty(conn: Connection, table: Table) -> Callable[[], None]:
    """On PostgreSQL, when ``table`` is empty, drop its primary key and unique constraints;
    returns what adds them back, which the caller runs after loading the rows, in the same
    transaction (a no-op when nothing was dropped). Building the index once from all the rows costs about half
    of inserting them into it one by one (1.1M event keys: 0.49 s against 0.88 s; 670k
    feature rows: 0.68 s against 1.04 s), and the import still fails as a whole if a key
    repeats. Dropping the key locks the table (ACCESS EXCLUSIVE) until the import commits,
    which is why only an empty table, one nobody reads anything from yet, gets this; a
    table with rows is loaded through its index. SQLite's rollup tables are their primary
    key (WITHOUT ROWID): nothing to drop."""
    if check_dialect(conn) != "postgresql" or conn.execute(select(1).select_from(table).limit(1)).first():
        return _nothing
    schema = inspect(conn)
    pk = schema.get_pk_constraint(table.name)
    keys = [(pk.get("name"), "PRIMARY KEY", pk.get("constrained_columns") or [])]
    # A unique constraint is an index too (the dictionaries' names, ``storage.usage_numbers``).
    keys += [(u.get("name"), "UNIQUE", u.get("column_names") or []) for u in schema.get_unique_constraints(table.name)]
    dropped = [(name, kind, columns) for name, kind, columns in keys if name and columns]
    for name, _, _ in dropped:
        conn.exec_driver_sql(f'ALTER TABLE "{table.name}" DROP CONSTRAINT "{name}"')

    def add_back() -> None:
        for name, kind, columns in dropped:
            quoted = ", ".join(f'"{c}"' for c in columns)
            conn.exec_driver_sql(f'ALTER TABLE "{table.name}" ADD CONSTRAINT "{name}" {kind} ({quoted})')

    return add_back


def _nothing() -> None:
    pass


_MISSING = object()


def bound_values(conn: Connection, column: Column, values: Sequence[Any]) -> Sequence[Any]:
    """Values as SQLAlchemy would bind them (e.g. SQLite dates and datetimes as its text
    format); dates repeat a lot, so each distinct one is converted once."""
    proc = column.type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
    if proc is None:
        return values
    if isinstance(column.type, Date):
        memo = {v: None if v is None else proc(v) for v in set(values)}
        return [memo[v] for v in values]
    if isinstance(column.type, UTCDateTime):
        if isinstance(values, np.ndarray) and values.dtype.kind == "M":
            # Already UTC without a zone, as the column stores it, and no Python object per
            # value: the COPY's CSV is written from the array itself (NaT is NULL).
            if conn.dialect.name != "sqlite":
                return values
            texts = _sqlite_utc_texts(values)
            assert texts is not None  # an array of datetime64 always reads as timestamps
            return texts
        if conn.dialect.name == "sqlite":
            text = _sqlite_utc_texts(values)
            if text is not None:
                return text
        # A scan's timestamps are mostly its own moment, the same object row after row (100k
        # orgs: 430k conversions of a handful of values): a run of one object is converted
        # once. By identity, not equality: two times of one zone compare equal by their wall
        # clock, fold ignored, which in the hour a clock turns back are different instants.
        out: list[Any] = []
        last_in: Any = _MISSING
        last_out: Any = None
        for v in values:
            if v is None:
                out.append(None)
                continue
            if v is not last_in:
                last_in, last_out = v, proc(v)
            out.append(last_out)
        return out
    return [None if v is None else proc(v) for v in values]


def _sqlite_utc_texts(values: Sequence[Any]) -> list[str | None] | None:
    """UTC timestamps as SQLite's text, for a whole column at once: the same text
    ``UTCDateTime``'s processor writes (aware values converted to UTC, naive ones taken as
    UTC, always six digits of microseconds), a quarter of its time at 100,000 values. None
    when pandas can't read the values as timestamps; the caller then converts one by one."""
    try:
        stamps = pd.to_datetime(pd.Series(values, dtype=object), utc=True)
    except (ValueError, TypeError, OverflowError):
        return None
    text = stamps.dt.tz_localize(None).dt.strftime("%Y-%m-%d %H:%M:%S.%f")
    return text.astype(object).where(text.notna(), None).tolist()

