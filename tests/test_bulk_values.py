"""Bulk rows bypass SQLAlchemy's per-row binding: the text they write must be what it writes."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Column, create_engine
from sqlalchemy.dialects.postgresql.psycopg import dialect as psycopg_dialect

from storage.models import UTCDateTime
from storage.staging import bound_values

_zones = st.one_of(st.none(), st.integers(-14 * 60, 14 * 60).map(lambda m: dt.timezone(dt.timedelta(minutes=m))))
_moments = st.one_of(
    st.none(),
    st.builds(lambda d, z: d.replace(tzinfo=z),
              st.datetimes(min_value=dt.datetime(1971, 1, 1), max_value=dt.datetime(2200, 1, 1)), _zones),
)


def _one_by_one(conn, column: Column, values: list) -> list:
    proc = column.type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
    return [None if v is None else proc(v) for v in values]


@settings(max_examples=60, deadline=None)
@given(st.lists(_moments, max_size=40))
def test_a_column_of_timestamps_is_the_text_sqlalchemy_writes_value_by_value(values) -> None:
    column = Column("at", UTCDateTime())
    with create_engine("sqlite://").connect() as conn:
        assert list(bound_values(conn, column, values)) == _one_by_one(conn, column, values)


def test_nanoseconds_are_cut_like_sqlalchemy_cuts_them_and_odd_values_fall_back() -> None:
    column = Column("at", UTCDateTime())
    stamps = [pd.Timestamp("2026-10-01 12:00:00.123456789", tz="UTC"),
              pd.Timestamp("2026-10-01 14:00:00.000000999", tz="Europe/Paris"), None]
    far = [dt.datetime(9999, 12, 31, 23, 59, tzinfo=dt.timezone.utc), dt.datetime(1, 1, 1)]  # past pandas' range
    with create_engine("sqlite://").connect() as conn:
        got = list(bound_values(conn, column, stamps))
        assert got == ["2026-10-01 12:00:00.123456", "2026-10-01 12:00:00.000000", None]
        assert got == _one_by_one(conn, column, stamps)
        assert list(bound_values(conn, column, far)) == ["9999-12-31 23:59:00.000000", "0001-01-01 00:00:00.000000"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from([None, dt.datetime(2026, 6, 1, 6, tzinfo=dt.timezone.utc),
                                 dt.datetime(2026, 6, 1, 8, tzinfo=dt.timezone(dt.timedelta(hours=2))),
                                 dt.datetime(2026, 6, 1, 6), pd.Timestamp("2026-06-02 07:30", tz="Asia/Tokyo")])
                | _moments, max_size=60))
def test_postgresql_timestamps_repeated_or_not_are_what_sqlalchemy_binds_value_by_value(values) -> None:
    """On PostgreSQL a run of one timestamp object is converted once; repeated values, equal
    instants in other zones and naive values among aware ones must come out as one by one."""
    conn = SimpleNamespace(dialect=psycopg_dialect())
    column = Column("at", UTCDateTime())
    got = list(bound_values(conn, column, values))  # type: ignore[arg-type]
    assert got == _one_by_one(conn, column, values)
    assert all(v is None or v.tzinfo is None for v in got)


def test_the_two_instants_of_an_hour_the_clock_turns_back_stay_two() -> None:
    """01:30 on 2026-11-01 in New York happens twice (fold 0: 05:30 UTC, fold 1: 06:30 UTC);
    Python holds the two equal, so reusing a conversion for an equal value would give both the
    first."""
    zone = ZoneInfo("America/New_York")
    first = dt.datetime(2026, 11, 1, 1, 30, tzinfo=zone)
    second = first.replace(fold=1)
    conn = SimpleNamespace(dialect=psycopg_dialect())
    got = list(bound_values(conn, Column("at", UTCDateTime()), [first, second]))  # type: ignore[arg-type]
    assert got == [dt.datetime(2026, 11, 1, 5, 30), dt.datetime(2026, 11, 1, 6, 30)]


def test_binary_copy_from_duckdb_lands_each_column_as_its_type_would_store_it(pg_schema_url) -> None:
    """Rollup rows go from DuckDB to PostgreSQL as binary COPY, which converts nothing: each
    column is cast to the target's type first. Text (non-ASCII too), dates, microsecond
    times, int4 and int8 extremes and NULLs must land as themselves, and dates and times
    handed over as the text the SQLite path writes must land as the same values."""
    import duckdb
    import pytest
    from sqlalchemy import BigInteger, Date, Integer, MetaData, Numeric, String, Table, select

    from storage.db import make_engine
    from storage.staging import copy_from_duckdb

    table = Table("copied_rows", MetaData(), Column("name", String(200)), Column("day", Date),
                  Column("seen_at", UTCDateTime()), Column("small", Integer), Column("big", BigInteger))
    duck = duckdb.connect()
    duck.execute("""CREATE TABLE src AS SELECT * FROM (VALUES
        ('acme', DATE '2025-06-01', TIMESTAMP '2025-06-01 23:59:59.999999', 2147483647, 9223372036854775807),
        ('Zürich 東京 "q", x', DATE '1970-01-01', TIMESTAMP '1970-01-01 00:00:00', -2147483648, -9223372036854775808),
        (NULL, NULL, NULL, NULL, NULL)) t(name, day, seen_at, small, big)""")
    expected = [("acme", dt.date(2025, 6, 1), dt.datetime(2025, 6, 1, 23, 59, 59, 999999, tzinfo=dt.UTC),
                 2147483647, 2**63 - 1),
                ('Zürich 東京 "q", x', dt.date(1970, 1, 1), dt.datetime(1970, 1, 1, tzinfo=dt.UTC), -(2**31), -(2**63)),
                (None, None, None, None, None)]
    names = ["name", "day", "seen_at", "small", "big"]
    engine = make_engine(pg_schema_url)
    try:
        with engine.begin() as conn:
            table.create(conn)
            typed = "SELECT name, day, seen_at, small, big FROM src ORDER BY big DESC"
            copy_from_duckdb(conn, table, names, duck, typed)
            as_text = ("SELECT name, strftime(day, '%Y-%m-%d'), strftime(seen_at, '%Y-%m-%d %H:%M:%S.%f'), "
                       "small, big FROM src ORDER BY big DESC")
            copy_from_duckdb(conn, table, names, duck, as_text)
            copy_from_duckdb(conn, table, names, duck, "SELECT * FROM src WHERE false")  # nothing: still valid
            stored = [tuple(row) for row in conn.execute(select(table))]
            with pytest.raises(NotImplementedError, match="money"):
                copy_from_duckdb(conn, Table("t", MetaData(), Column("money", Numeric(14, 2))), ["money"], duck,
                                 "SELECT 1.5")
            conn.rollback()
    finally:
        engine.dispose()
    assert stored == expected + expected


_texts = st.one_of(st.none(), st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)),
                                      max_size=12))
_floats = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True))
_rows = st.lists(st.tuples(
    _texts, _floats, st.one_of(st.none(), st.decimals(min_value=-10**9, max_value=10**9, places=2)),
    st.one_of(st.none(), st.dates(min_value=dt.date(1970, 1, 1), max_value=dt.date(2200, 1, 1))), _moments,
    st.one_of(st.none(), st.booleans()), st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1)),
), max_size=30)


def _comparable(rows: list) -> list:
    """Rows with NaN written as text: NaN equals nothing, itself included."""
    return [tuple("NaN" if isinstance(v, float) and v != v else v for v in row) for row in rows]


@settings(max_examples=40, deadline=None)
@given(_rows)
def test_csv_copy_lands_what_sqlalchemy_inserts_row_by_row(pg_schema_url, rows) -> None:
    """The scan's results reach PostgreSQL as CSV that pyarrow writes a column at a time, in
    blocks (``copy_values``): text with commas, quotes, new lines and empty strings, floats to
    the last bit (NaN and infinities too), money, dates, instants, booleans and int8 extremes
    must land as SQLAlchemy's own INSERT stores them, NULL where None, across block edges."""
    import pytest
    from sqlalchemy import BigInteger, Boolean, Date, Float, MetaData, Numeric, Table, Text, select

    from storage import staging
    from storage.db import make_engine

    names = ["name", "ratio", "money", "day", "seen_at", "flag", "big"]
    meta = MetaData()
    types = [Text, Float, Numeric(14, 2), Date, UTCDateTime(), Boolean, BigInteger]
    copied = Table("copied_csv", meta, Column("n", BigInteger), *[Column(n, t) for n, t in zip(names, types)])
    inserted = Table("inserted_rows", meta, Column("n", BigInteger), *[Column(n, t) for n, t in zip(names, types)])
    rows = [(i, *row) for i, row in enumerate(rows)]
    engine = make_engine(pg_schema_url)
    try:
        with engine.begin() as conn, pytest.MonkeyPatch.context() as patch:
            patch.setattr(staging, "CSV_BLOCK_ROWS", 7)  # several blocks, some of them all NULL in a column
            meta.create_all(conn)
            staging.insert_rows(conn, copied, ["n", *names], [list(c) for c in zip(*rows)] if rows else [])
            if rows:
                conn.execute(inserted.insert(), [dict(zip(["n", *names], r)) for r in rows])
            got = [tuple(r) for r in conn.execute(select(copied).order_by(copied.c.n))]
            want = [tuple(r) for r in conn.execute(select(inserted).order_by(inserted.c.n))]
            with pytest.raises(TypeError, match="copied_csv.name: values of mixed kinds"):
                staging.insert_rows(conn, copied, ["n", "name"], [[1, 2], ["text", 7]])
            conn.rollback()
    finally:
        engine.dispose()
    assert len(got) == len(rows)
    assert _comparable(got) == _comparable(want)
