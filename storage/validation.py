"""Row validation for the import, vectorized over a whole chunk of CSV rows.

A bad file is rejected with ``file:line: column: reason`` for each problem, so the person who
exported it can fix the rows without guessing. Checks run column by column on pandas Series
(never a Python loop per row); only the few errors that will actually be shown get their
message text built. Lines are *physical* CSV lines (the header is line 1), mapped from record
numbers only when there is something to report: a quoted value may span lines, so "record
n" and "line n + 2" are not always the same. A Parquet file has no lines: its problems name
the row (the first row is row 1).

Every check here exists so that SQLite and PostgreSQL store the same thing or refuse the
same thing: a value one database would take and the other would crash on (a NUL character,
an amount that rounds past ``Numeric(14, 2)``) is a validation error, not a database error.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pycountry

from storage.csv_contract import (
    CHOICE,
    COUNT,
    CURRENCY,
    DATE,
    MONEY,
    ORDERED_COLUMNS,
    SCORE,
    TEXT,
    TIMESTAMP,
    ColumnSpec,
    TableSpec,
)

MAX_REPORTED_ERRORS = 20
# Numeric(14, 2) and a 32-bit Integer are the storage limits for money and counts.
MAX_MONEY = 1e12
# Amounts are rounded half up to the cent before they are stored: anything from here up
# rounds to MAX_MONEY, which Numeric(14, 2) can't hold.
MONEY_ROUNDS_TOO_LARGE = MAX_MONEY - 0.005
MAX_COUNT = 2_147_483_647
# Dates and timestamps are accepted from 1970-01-01 up to the end of 2100 (UTC): wide enough
# for any real customer record, narrow enough to catch 0001-01-01 / 9999-12-31 placeholders,
# which would otherwise sit in "renewal date" and "last seen" computations as real dates.
MIN_YEAR = 1970
MAX_YEAR = 2100
_MIN_TIME = pd.Timestamp(f"{MIN_YEAR}-01-01", tz="UTC")
_END_TIME = pd.Timestamp(f"{MAX_YEAR + 1}-01-01", tz="UTC")
# ISO 4217 currency codes, from the pycountry package (its ISO 4217 data follows the
# standard's maintenance agency): "XYZ" has the right shape but is no currency.
CURRENCY_CODES: frozenset[str] = frozenset(c.alpha_3 for c in pycountry.currencies)
# "YYYY-MM-DD" is the shortest ISO value accepted; pandas' ISO8601 parser alone would also
# take "2024" or "2024-05", which are more likely a wrong column than a date.
MIN_ISO_LENGTH = 10
CSV_ENCODING = "utf-8-sig"  # tolerate the byte-order mark spreadsheet exports add


@dataclass(frozen=True)
class RowError:
    """One problem in one input file, as a person reads it: ``file:line: column: reason``.

    For a Parquet file ``line`` is the row number (``file:row 3: column: reason``), and 0
    stands for the file's schema (``file: column: reason``)."""

    file: str
    line: int
    column: str | None
    reason: str
    unit: str = "line"

    def __str__(self) -> str:
        where = self.file
        if self.unit == "row":
            where += f":row {self.line}" if self.line else ""
        else:
            where += f":{self.line}"
        if self.column:
            return f"{where}: {self.column}: {self.reason}"
        return f"{where}: {self.reason}"


def is_parquet(path: Path) -> bool:
    return path.suffix.lower() == ".parquet"


@dataclass
class Issue:
    """Rows of one chunk failing one check; the reason text is built lazily per shown row."""

    column: str | None
    order: int  # the column's position in the file, so errors read left to right
    mask: np.ndarray
    reason: Callable[[int], str]
    # For duplicates: the record number of the earlier row, reported as "first on line N".
    related: Callable[[int], int] | None = None


@dataclass
class _Pending:
    file: str
    path: Path
    record: int | None  # 0-based data record; None when ``line`` is already known
    line: int | None
    column: str | None
    reason: str
    related_record: int | None = None


@dataclass
class ErrorLog:
    """Counts every error but keeps only the first ``limit`` (in import order) for display."""

    limit: int = MAX_REPORTED_ERRORS
    count: int = 0
    _items: list[_Pending] = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.count > 0

    def add_line_error(self, file: str, path: Path, line: int, column: str | None, reason: str) -> None:
        self.count += 1
        if len(self._items) < self.limit:
            self._items.append(_Pending(file, path, None, line, column, reason))

    def add_issues(self, file: str, path: Path, records: np.ndarray, issues: Iterable[Issue]) -> None:
        """Count the issues of one chunk; ``records[i]`` is the file record of chunk row i."""
        entries: list[tuple[int, int, _Pending]] = []
        for issue in issues:
            positions = np.flatnonzero(issue.mask)
            self.count += len(positions)
            # Each check's first `limit` rows are enough to know the chunk's first `limit`.
            for pos in positions[: self.limit]:
                pos = int(pos)
                related = issue.related(pos) if issue.related else None
                record = int(records[pos])
                pending = _Pending(file, path, record, None, issue.column, issue.reason(pos), related)
                entries.append((record, issue.order, pending))
        entries.sort(key=lambda e: (e[0], e[1]))
        room = self.limit - len(self._items)
        self._items.extend(p for _, _, p in entries[: max(room, 0)])

    def add_records(self, file: str, path: Path, column: str | None,
                    rows: Sequence[tuple[int, str, int | None]], total: int) -> None:
        """Count ``total`` problems found by one query over a whole file; ``rows`` are the
        first (record, reason, related record or None) of them, in record order."""
        self.count += total
        room = max(self.limit - len(self._items), 0)
        for record, reason, related in rows[:room]:
            self._items.append(_Pending(file, path, record, None, column, reason, related))

    def errors(self) -> list[RowError]:
        """The kept errors with physical line numbers (reads the affected files once more)."""
        by_path: dict[Path, set[int]] = {}
        for item in self._items:
            for rec in (item.record, item.related_record):
                if rec is not None:
                    by_path.setdefault(item.path, set()).add(rec)
        lines = {path: _positions(path, recs) for path, recs in by_path.items()}
        out = []
        for item in self._items:
            line = item.line if item.record is None else lines[item.path][item.record]
            assert line is not None, "an item without a record has its line"
            reason = item.reason
            unit = "row" if is_parquet(item.path) else "line"
            if item.related_record is not None:
                reason = f"{reason} (first on {unit} {lines[item.path][item.related_record]})"
            out.append(RowError(item.file, line, item.column, reason, unit))
        return out


def _positions(path: Path, records: set[int]) -> dict[int, int]:
    """Where each record is, as shown to a person: its physical line, or its Parquet row."""
    if is_parquet(path):
        return {rec: rec + 1 for rec in records}
    return record_lines(path, records)


def record_lines(path: Path, records: Iterable[int]) -> dict[int, int]:
    """Physical line where each 0-based data record starts, counted the way pandas splits
    records (quoted newlines stay inside a record, blank lines are skipped)."""
    wanted = sorted(set(records))
    found: dict[int, int] = {}
    if not wanted:
        return found
    with open(path, newline="", encoding=CSV_ENCODING, errors="replace") as fh:
        reader = csv.reader(fh)
        record = -1  # the header
        prev_end = 0
        i = 0
        for row in reader:
            start, prev_end = prev_end + 1, reader.line_num
            if not row:
                continue
            if record == wanted[i]:
                found[record] = start
                i += 1
                if i == len(wanted):
                    break
            record += 1
    return found


def _fmt(value: object) -> str:
    return repr(str(value))


def _str_values(raw: pd.Series) -> np.ndarray:
    return raw.to_numpy(dtype=object)


def parse_column(raw: pd.Series, col: ColumnSpec, order: int) -> tuple[pd.Series, list[Issue]]:
    """Parse one column of stripped strings; returns typed values (NaN/NaT/"" when empty)
    and the issues found. Each row gets at most one issue per column."""
    values = _str_values(raw)
    empty = (raw == "").to_numpy()
    issues: list[Issue] = []

    def issue(mask: np.ndarray, reason: Callable[[int], str]) -> None:
        if mask.any():
            issues.append(Issue(col.name, order, mask, reason))

    if col.required:
        issue(empty, lambda i: "empty required value")
    # PostgreSQL text can't hold NUL (SQLite would store it): refused here, for both.
    nul = ~empty & raw.str.contains("\x00", regex=False).to_numpy(dtype=bool)
    issue(nul, lambda i: "contains a NUL character")
    filled = ~empty & ~nul

    if col.kind == TEXT:
        if col.max_len is not None:
            too_long = filled & (raw.str.len() > col.max_len).to_numpy()
            issue(too_long, lambda i: f"longer than {col.max_len} characters")
        return raw, issues

    if col.kind == CHOICE:
        lowered = raw.str.lower()
        bad = filled & ~lowered.isin(col.choices).to_numpy()
        expected = ", ".join(col.choices)
        issue(bad, lambda i: f"unknown value {_fmt(values[i])} (expected {expected})")
        return lowered, issues

    if col.kind == CURRENCY:
        upper = raw.str.upper()
        bad = filled & ~upper.isin(CURRENCY_CODES).to_numpy(dtype=bool)
        issue(bad, lambda i: f"not an ISO 4217 currency code: {_fmt(values[i])}")
        return upper, issues

    if col.kind in (TIMESTAMP, DATE):
        parsed = pd.to_datetime(raw, utc=True, format="ISO8601", errors="coerce")
        short = (raw.str.len() < MIN_ISO_LENGTH).to_numpy()
        bad = filled & (parsed.isna().to_numpy() | short)
        what = "an ISO date" if col.kind == DATE else "an ISO date or timestamp"
        issue(bad, lambda i: f"not {what}: {_fmt(values[i])}")
        outside = filled & ~bad & ((parsed < _MIN_TIME) | (parsed >= _END_TIME)).to_numpy(dtype=bool)
        issue(outside, lambda i: f"outside the years {MIN_YEAR}-{MAX_YEAR}: {_fmt(values[i])}")
        parsed = parsed.where(~pd.Series(bad | outside, index=raw.index))
        if col.kind == DATE:
            parsed = parsed.dt.floor("D")
        return parsed, issues

    # Numbers: MONEY, COUNT, SCORE.
    num = pd.to_numeric(raw, errors="coerce").astype("float64")
    arr = num.to_numpy()
    with np.errstate(invalid="ignore"):
        not_number = filled & ~np.isfinite(arr)
        known = filled & ~not_number
        whole_needed = col.kind == COUNT or col.integer
        not_whole = known & (arr != np.floor(arr)) if whole_needed else np.zeros_like(known)
        ok = known & ~not_whole
        negative = ok & (arr < 0)
    issue(not_number, lambda i: f"not a number: {_fmt(values[i])}")
    issue(not_whole, lambda i: f"not a whole number: {_fmt(values[i])}")
    if col.kind == SCORE:
        lo, hi = col.lo, col.hi
        assert lo is not None and hi is not None, "a score column has its range"
        out_of_range = ok & ((arr < lo) | (arr > hi))
        issue(out_of_range, lambda i: f"out of range {_num(lo)}-{_num(hi)}: {_fmt(values[i])}")
    else:
        issue(negative, lambda i: f"must not be negative: {_fmt(values[i])}")
        if col.lo is not None and col.lo > 0:
            minimum = col.lo
            below = ok & ~negative & (arr < minimum)
            issue(below, lambda i: f"must be at least {_num(minimum)}: {_fmt(values[i])}")
        limit = MONEY_ROUNDS_TOO_LARGE if col.kind == MONEY else MAX_COUNT
        too_large = ok & ~negative & (arr >= limit if col.kind == MONEY else arr > limit)
        issue(too_large, lambda i: f"too large: {_fmt(values[i])}")
    return num.where(ok), issues


def _num(x: float | None) -> str:
    return "" if x is None else (str(int(x)) if float(x).is_integer() else str(x))


def check_frame(frame: pd.DataFrame, spec: TableSpec,
                order: dict[str, int]) -> tuple[dict[str, pd.Series], list[Issue]]:
    """Parse every column present in ``frame`` and the ordering rules between them."""
    parsed: dict[str, pd.Series] = {}
    issues: list[Issue] = []
    for name in frame.columns:
        values, found = parse_column(frame[name], spec.column(name), order[name])
        parsed[name] = values
        issues += found
    pair = ORDERED_COLUMNS.get(spec.key)
    if pair and pair[0] in parsed and pair[1] in parsed:
        later, earlier = pair
        a, b = parsed[later], parsed[earlier]
        before = (a < b).fillna(False).to_numpy(dtype=bool)
        if before.any():
            raw_a, raw_b = _str_values(frame[later]), _str_values(frame[earlier])
            issues.append(
                Issue(later, order[later], before,
                      lambda i: f"before {earlier} ({raw_a[i]} < {raw_b[i]})")
            )
    return parsed, issues


def duplicate_issue(ids: pd.Series, column: str, order: int, records: np.ndarray) -> Issue | None:
    """Rows repeating an id already seen earlier in the same file (the earlier row wins nothing:
    the file is rejected, because which of the two is right is the exporter's call)."""
    dup = (ids.duplicated(keep="first") & (ids != "")).to_numpy()
    if not dup.any():
        return None
    values = _str_values(ids)
    positions = pd.Series(np.arange(len(ids)), index=pd.Index(values))
    first_seen = positions[~positions.index.duplicated(keep="first")]
    return Issue(
        column,
        order,
        dup,
        lambda i: f"duplicate id {_fmt(values[i])}",
        related=lambda i: int(records[int(first_seen[values[i]])]),
    )


def _quoted(value: object) -> str:
    return f'"{value}"'


def foreign_org_issue(org_ids: pd.Series, row_apps: pd.Series, stored_apps: pd.Series, order: int) -> Issue | None:
    """Rows of an orgs file whose id is already stored under another application.

    Org ids are global keys, so such a row would silently move the org (and its revenue and
    usage) from one product to another; two exporters numbering orgs alike is the likelier
    story. ``stored_apps`` maps stored org id -> application name, ``row_apps`` is each
    row's application."""
    stored = org_ids.map(stored_apps)
    bad = (stored.notna() & (stored != row_apps)).to_numpy(dtype=bool)
    if not bad.any():
        return None
    values, owners = _str_values(org_ids), _str_values(stored)
    return Issue("org_id", order, bad,
                 lambda i: f"{_quoted(values[i])} already belongs to application {_quoted(owners[i])}")


def unknown_org_issue(org_ids: pd.Series, known: pd.Index, order: int, applications: Sequence[str]) -> Issue | None:
    """Rows naming an org that is not one of the imported applications' orgs (stored, or in
    this import's orgs file): an org of another application is as unknown as a typo."""
    bad = ((org_ids != "") & ~org_ids.isin(known)).to_numpy()
    if not bad.any():
        return None
    values = _str_values(org_ids)
    noun = "application" if len(applications) == 1 else "applications"
    where = f"{noun} {', '.join(_quoted(a) for a in applications)}"
    return Issue("org_id", order, bad, lambda i: f"unknown org {_quoted(values[i])} in {where}")


# -- the fast lane: rows DuckDB can vouch for without the validator ------------------------------
#
# Validating a million events in pandas costs more than reading them. Most rows of a real
# export are plainly valid: ids of known orgs, ISO timestamps in one of a few canonical
# shapes, plain whole counts. ``fast_lane`` is DuckDB SQL that recognises exactly such rows
# (conservatively: a row it doesn't recognise is not necessarily bad) and computes their
# time and count; every other row goes through ``check_frame`` as before, so each bad row
# still gets its exact message, and each row accepted here is one ``check_frame`` accepts
# with the same values (tests/test_import.py holds the two side by side).

# YYYY-MM-DD, optionally with a time to the microsecond and a UTC offset ("Z" or +hh:mm).
FAST_TIMESTAMP_PATTERN = (r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
                          r"([T ]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,6})?"
                          r"(Z|[+-](0[0-9]|1[0-4]):[0-5][0-9])?)?")
_MIN_US = int((_MIN_TIME - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(microseconds=1))
_END_US = int((_END_TIME - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(microseconds=1))


def _sql_text_ok(col: ColumnSpec, name: str | None = None) -> str:
    name = name or f'"{col.name}"'
    parts = [f"NOT contains({name}, chr(0))"]
    if col.max_len is not None:
        parts.append(f"strlen({name}) <= {col.max_len}")  # bytes: never fewer than characters
    if col.required:
        parts.append(f"{name} <> ''")
    return " AND ".join(parts)


def fast_text_ok(spec: TableSpec, column: str, value: str, known_orgs_table: str) -> str:
    """DuckDB condition: the text ``value`` (SQL) is what the fast lane vouches for in
    ``column``: within its limits, and for an org id, a known org; never NULL. ``fast_lane``
    checks each row's with it, unless the caller checked each distinct value (``checked``)."""
    col = next(c for c in spec.columns if c.name == column)
    conds = [_sql_text_ok(col, value)]
    if column == "org_id":
        conds.append(f"{value} IN (SELECT org_id FROM {known_orgs_table})")
    return f"coalesce({' AND '.join(f'({c})' for c in conds)}, false)"


def fast_lane(spec: TableSpec, names: set[str], source: str, known_orgs_table: str,
              keep: Sequence[str] = (), checked: Mapping[str, str] | None = None) -> str:
    """DuckDB query over ``source`` (the record number ``rec`` and the loaded text columns
    ``names`` of an events file): per record ``rec``, ``ok`` (the row is valid: text columns
    within their limits, org in ``known_orgs_table``, timestamp and count in a canonical
    shape and range), and for those rows ``ts_us`` (UTC microseconds) and ``n`` (the count,
    its default when empty), NULL for the others; then the ``keep`` columns of ``source``.
    ``checked`` names text columns whose values the caller checked (``fast_text_ok``), each
    with the source's boolean column holding the verdict: hashed names are checked once per
    distinct value instead of once per row. In no particular order: sorting 10.7M records
    back into file order cost more than anything that reads them needs (at 100k orgs)."""
    conds: list[str] = []
    ts_sql = "NULL"
    n_sql = "1"
    for col in spec.columns:
        if col.name not in names:
            continue
        name = f'"{col.name}"'
        if col.kind == TEXT:
            conds.append(checked[col.name] if checked and col.name in checked
                         else fast_text_ok(spec, col.name, name, known_orgs_table))
        elif col.kind == TIMESTAMP:
            ts_sql = (f"CASE WHEN regexp_full_match({name}, '{FAST_TIMESTAMP_PATTERN}') "
                      f"THEN epoch_us(TRY_CAST({name} AS TIMESTAMPTZ)) END")
            conds.append(f"ts_us BETWEEN {_MIN_US} AND {_END_US - 1}")
        elif col.kind == COUNT:
            n_sql = (f"CASE WHEN {name} = '' THEN {int(col.default)} "  # type: ignore[call-overload]
                     f"WHEN regexp_full_match({name}, '[0-9]{{1,10}}') THEN TRY_CAST({name} AS BIGINT) END")
            conds.append(f"n BETWEEN {max(int(col.lo or 0), 0)} AND {MAX_COUNT}")
        else:
            raise ValueError(f"no fast lane for {col.kind} columns")
    ok = " AND ".join(f"({c})" for c in conds)
    kept = "".join(f", {k}" for k in keep)
    return f"""
        SELECT rec, ok, CASE WHEN ok THEN ts_us END AS ts_us, CASE WHEN ok THEN n END AS n{kept}
        FROM (SELECT rec, ts_us, n, coalesce({ok}, false) AS ok{kept}
              FROM (SELECT *, {ts_sql} AS ts_us, {n_sql} AS n FROM {source}))"""
