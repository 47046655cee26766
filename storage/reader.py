"""Reading import files with DuckDB: CSV and Parquet into a scratch database, rows out in chunks.

DuckDB parses CSV in C++ on every core, reads Parquet natively, and keeps its tables in
memory up to a limit, spilling to a temporary directory beyond it: a
ten-million-row events file is read, de-duplicated and rolled up (``storage.event_import``)
without holding it in Python. Every cell lands as text, trimmed (or trimmed later, where it
is read: ``load_file``), an empty cell as ""; the validator (``storage.validation``), not
the reader, decides what a value means, for CSV and Parquet alike. A table's ``rowid`` is
the record's position in the file (insertion order is preserved), which error messages turn
into a physical line or a Parquet row.

A CSV file DuckDB refuses is handed to ``storage.csv_files.structure_problems`` for the
physical line and a plain reason; DuckDB's own message never reaches the person importing.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from storage.csv_files import (FileProblem, Header, InputFile, MalformedFile, StructureProblem, read_header,
                               structure_problems)

# DuckDB's share of memory; beyond it its tables and sorts spill to the scratch directory.
# Python's own chunks come on top (see EVENT_CHUNK_ROWS in storage.importer). By default an
# eighth of the machine's memory (or of its container's limit), within these bounds.
MIN_WORK_MEMORY_MB = 192
MAX_WORK_MEMORY_MB = 2048
WORK_MEMORY_SHARE = 8
WORK_MEMORY_VARIABLE = "SAAS_TRACKER_IMPORT_MEMORY"
_CGROUP_MEMORY_LIMIT = Path("/sys/fs/cgroup/memory.max")

VECTOR_ROWS = 2048  # DuckDB's vector size: chunks are fetched in whole vectors
# Trimmed around every cell, in any mix: the ASCII whitespace a spreadsheet or exporter
# leaves, and Unicode's space separators (a no-break space, as DuckDB's plain trim() strips).
# Most cells have none, and trimming copies the text even then: a cell is only trimmed when
# its first or last character is one of them (at 100k orgs, 10.7M events: reading the file
# 9.0 -> 8.2 s, medians of three).
_WHITESPACE_CODES = (9, 10, 11, 12, 13, 32, 160, 5760, *range(8192, 8203), 8239, 8287, 12288)
_WHITESPACE = "".join(chr(c) for c in _WHITESPACE_CODES)
_LAST_ASCII_SPACE, _FIRST_OTHER_SPACE = 32, 160  # every code above is at most the one or at least the other


def work_memory() -> str:
    """DuckDB's memory limit for an import, read when the import starts (so a process can
    change it between imports): ``SAAS_TRACKER_IMPORT_MEMORY``, else ``default_work_memory``."""
    return os.environ.get(WORK_MEMORY_VARIABLE) or default_work_memory(machine_memory())


def default_work_memory(machine_bytes: int | None) -> str:
    """An eighth of the machine's memory, at least 192 MB and at most 2 GB. Why more than the
    least that works: at 100k orgs (10.7M events) the events file, the fast lane's verdicts
    and the events' keys spill to disk at 192 MB, less at 1 GB, hardly at 2 GB: the
    PostgreSQL import took 76-82 s at 192 MB, 54-64 s at 1 GB (four pairs and three on a
    2-core machine), and on another such machine 45.4 s at 1 GB, 40.2 s at 2 GB (two pairs
    each; 3 GB was no faster), for a peak RSS of 0.64, 1.4 and 2.4 GB. A small container
    still gets the 192 MB that suffices."""
    if machine_bytes is None:
        return f"{MIN_WORK_MEMORY_MB}MB"
    share = machine_bytes // WORK_MEMORY_SHARE // 2**20
    return f"{min(MAX_WORK_MEMORY_MB, max(MIN_WORK_MEMORY_MB, share))}MB"


def machine_memory() -> int | None:
    """Bytes of memory this process may use: its cgroup's limit when it runs in a container
    that sets one, else the machine's physical memory; None when neither can be read."""
    try:
        limit = _CGROUP_MEMORY_LIMIT.read_text().strip()
        cgroup = int(limit) if limit.isdigit() else None
    except OSError:
        cgroup = None
    try:
        physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        physical = None
    known = [m for m in (cgroup, physical) if m and m > 0]
    return min(known) if known else None


class WorkDB:
    """The import's DuckDB scratch database, removed with its directory on ``close``."""

    def __init__(self, memory_limit: str | None = None) -> None:
        limit = memory_limit or work_memory()
        self._dir = tempfile.TemporaryDirectory(prefix="saas-tracker-import-")
        # In memory (faster than a database file), spilling to the directory beyond the limit.
        self.con = duckdb.connect(":memory:")
        self.con.execute(f"SET memory_limit = '{limit}'")
        self.con.execute(f"SET temp_directory = '{Path(self._dir.name) / 'spill'}'")
        self.con.execute("SET preserve_insertion_order = true")
        self.con.execute("SET TimeZone = 'UTC'")  # Parquet times with a zone are read in UTC
        self.con.execute(f"SET threads = {max(1, os.cpu_count() or 1)}")

    @property
    def scratch(self) -> Path:
        """A directory for files handed to the database (COPY input), removed with this."""
        return Path(self._dir.name)

    def close(self) -> None:
        self.con.close()
        self._dir.cleanup()

    def __enter__(self) -> WorkDB:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def count(self, table: str) -> int:
        return int(self.value(f"SELECT count(*) FROM {table}"))

    def value(self, query: str) -> Any:
        """The single value of a query. (``fetchall``, not ``fetchone``: a result not
        fetched to its end keeps the connection busy.)"""
        return self.con.execute(query).fetchall()[0][0]

    def row(self, query: str) -> tuple:
        return tuple(self.con.execute(query).fetchall()[0])


def quoted(name: str) -> str:
    """``name`` as a DuckDB identifier."""
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def file_header(f: InputFile) -> Header:
    """Column names of a CSV header row or of a Parquet schema, stripped and lower-cased."""
    if not f.parquet:
        return read_header(f.path)
    return Header([name.strip().lower() for name in _parquet_schema(f.path)], 0)


def _parquet_schema(path: Path) -> dict[str, str]:
    """Original column name -> DuckDB type name."""
    try:
        rows = duckdb.connect().execute(
            f"DESCRIBE SELECT * FROM read_parquet({_literal(str(path))})").fetchall()
    except duckdb.Error:
        raise FileProblem(0, "not a readable Parquet file") from None
    return {row[0]: str(row[1]) for row in rows}


def load_file(work: WorkDB, f: InputFile, header: Header, table: str, trim: bool = True) -> int:
    """Read ``f`` into ``table`` (one text column per header name); returns the row count.

    ``trim=False`` leaves the whitespace around cells for the caller to trim (``trimmed``)
    where it reads them: the events import trims each distinct name once instead of every
    cell (at 100k orgs, 10.7M events: loading 3.4-4.0 s -> 2.1-2.3 s).

    Raises ``MalformedFile`` for a CSV file with rows of the wrong width or broken quoting or
    encoding, ``FileProblem`` for an unreadable Parquet file."""
    cell = trimmed if trim else _filled
    columns = ", ".join(f"{cell(quoted(src))} AS {quoted(name)}" for src, name in _sources(f, header))
    source = _parquet_source(f, header) if f.parquet else _csv_source(f, header)
    try:
        work.con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT {columns} FROM {source}")
    except duckdb.OutOfMemoryException:
        raise  # the import's memory limit, not the file: said as such by import_paths
    except duckdb.Error as exc:
        if f.parquet:
            raise FileProblem(0, "not a readable Parquet file") from exc
        found = structure_problems(f.path, header)
        if found is None:  # DuckDB refused what Python's csv reads: say where DuckDB stopped
            raise MalformedFile([StructureProblem(_duckdb_line(str(exc)), None, "malformed CSV row")], 1) from exc
        raise found from exc
    return work.count(table)


def _filled(col: str) -> str:
    """SQL for a cell as it is, "" for an empty or missing one."""
    return f"coalesce({col}, '')"


def trimmed(col: str) -> str:
    """SQL for a cell without surrounding whitespace, "" for an empty or missing cell.

    Only a cell whose first or last character could be whitespace (a control character,
    a space or anything past ASCII) goes through ``trim``, which removes exactly
    ``_WHITESPACE``. Not ``IN`` the list of whitespace codes: DuckDB plans a list that long
    as a join, and the join gave the table's rows out of the file's order (a 300,000-row
    file came back as its second half, then its first), so record numbers, and with them
    the lines errors name and the row a repeated event keeps, were wrong. One BETWEEN per
    end costs what the list did (100k orgs: 3.4-3.6 s to load the events against 3.5-3.9 s;
    two comparisons per end, 4.7 s)."""
    # substring(.., length(..), 1) is the last character: {col}[-1] and right() cost more.
    first, last = f"ascii({col})", f"ascii(substring({col}, length({col}), 1))"
    edge = " OR ".join(f"NOT ({c} BETWEEN {_LAST_ASCII_SPACE + 1} AND {_FIRST_OTHER_SPACE - 1})"
                       for c in (first, last))
    return f"CASE WHEN {edge} THEN trim({col}, {_literal(_WHITESPACE)}) ELSE {_filled(col)} END"


def _sources(f: InputFile, header: Header) -> list[tuple[str, str]]:
    """(column in the source, contract name) pairs, in file order."""
    if f.parquet:
        return list(zip(_parquet_schema(f.path), header.names))
    return [(f"c{i}", name) for i, name in enumerate(header.names)]


def _csv_source(f: InputFile, header: Header) -> str:
    types = ", ".join(f"'c{i}': 'VARCHAR'" for i in range(len(header.names)))
    return (
        f"read_csv({_literal(str(f.path))}, header = false, skip = {header.line}, auto_detect = false, "
        f"columns = {{{types}}}, delim = ',', quote = '\"', escape = '\"', strict_mode = true, "
        "null_padding = false, encoding = 'utf-8')"
    )


def _parquet_source(f: InputFile, header: Header) -> str:
    """Parquet values as the text a CSV export would hold for them (dates and times in ISO
    8601, naive times taken as UTC), so the same validator reads both."""
    schema = _parquet_schema(f.path)
    exprs = []
    for src, type_name in schema.items():
        col = quoted(src)
        upper = type_name.upper()
        if upper == "DATE":
            text = f"strftime({col}, '%Y-%m-%d')"
        elif upper.startswith("TIMESTAMP"):
            text = f"strftime(CAST({col} AS TIMESTAMP), '%Y-%m-%dT%H:%M:%S.%fZ')"
        else:
            text = f"CAST({col} AS VARCHAR)"
        exprs.append(f"{text} AS {col}")
    return f"(SELECT {', '.join(exprs)} FROM read_parquet({_literal(str(f.path))}))"


def _duckdb_line(message: str) -> int:
    marker = "Line: "
    if marker in message:
        digits = message.split(marker, 1)[1].split()[0]
        if digits.isdigit():
            return int(digits)
    return 1


def frames(work: WorkDB, table: str, names: list[str],
           chunk_rows: int | None) -> Iterator[tuple[np.ndarray, pd.DataFrame]]:
    """(record numbers, text frame) chunks of ``table`` in file order; ``chunk_rows=None``
    returns the whole table as one chunk."""
    cols = ", ".join(quoted(n) for n in names)
    yield from query_frames(work, f"SELECT rowid AS __rec, {cols} FROM {table}", names, chunk_rows)


def query_frames(work: WorkDB, query: str, names: list[str],
                 chunk_rows: int | None) -> Iterator[tuple[np.ndarray, pd.DataFrame]]:
    """``frames`` of a query whose first column, ``__rec``, is the record number and whose
    other columns are ``names``."""
    # A cursor of its own: the caller runs other statements between chunks, which would
    # end a result pending on the main connection.
    with work.con.cursor() as cursor:
        cursor.execute(query)
        vectors = max(1, (chunk_rows or 0) // VECTOR_ROWS)
        while True:
            frame = cursor.fetch_df() if chunk_rows is None else cursor.fetch_df_chunk(vectors)
            if len(frame) == 0 and chunk_rows is not None:
                return
            records = frame.pop("__rec").to_numpy(dtype=np.int64)
            frame.columns = names
            yield records, frame.reset_index(drop=True)
            if chunk_rows is None:
                return
