"""Finding the import's files, and what can be wrong with a file as a whole.

Which contract a file follows comes from its name (``storage.csv_contract``); the rows are
read by ``storage.reader``. This module reads headers and, when the fast reader says a CSV
file is malformed, finds *where*: the physical line (quoted values may span lines, blank
lines are skipped) and one plain reason, never a parser library's message.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from storage.csv_contract import (DAILY, DAILY_TABLES, EVENTS, TABLES, TableSpec, accepted_file_names,
                                  table_for_file_name)
from storage.validation import CSV_ENCODING, ErrorLog, is_parquet

# A structural scan stops after this many problems: the rest would say the same.
MAX_STRUCTURE_PROBLEMS = 1000


class InputError(ValueError):
    """The paths given can't be imported at all (missing, unknown file name, ambiguous)."""


@dataclass(frozen=True)
class InputFile:
    spec: TableSpec
    path: Path

    @property
    def label(self) -> str:
        return str(self.path)

    @property
    def parquet(self) -> bool:
        return is_parquet(self.path)


def resolve_inputs(paths: Sequence[str | Path]) -> list[InputFile]:
    """Map the given directories and files to tables, in import order.

    A directory contributes every known file name it holds; a file must itself carry a known
    name, because the name is the only thing that says which contract applies.
    """
    if not paths:
        raise InputError("no paths given")
    chosen: dict[str, InputFile] = {}
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = [p for p in sorted(path.iterdir()) if p.is_file() and table_for_file_name(p.name)]
            if not found:
                raise InputError(
                    f"{path}: no importable files (expected any of {_expected()})"
                )
        elif path.is_file():
            if table_for_file_name(path.name) is None:
                raise InputError(f"{path}: unknown file name (expected one of {_expected()})")
            found = [path]
        else:
            raise InputError(f"{path}: no such file or directory")
        for file_path in found:
            spec = table_for_file_name(file_path.name)
            assert spec is not None
            if spec.key in chosen and chosen[spec.key].path.resolve() != file_path.resolve():
                raise InputError(
                    f"two {spec.label} files given ({chosen[spec.key].path} and {file_path}); "
                    "import them one at a time"
                )
            chosen[spec.key] = InputFile(spec, file_path)
    _check_usage_sources(chosen)
    return [chosen[spec.key] for spec in TABLES if spec.key in chosen]


def _expected() -> str:
    return ", ".join(accepted_file_names()) + " (or .parquet)"


def _check_usage_sources(chosen: dict[str, InputFile]) -> None:
    """Raw events and daily rollups are two ways to give the same numbers: one import takes
    one of them, and the rollup files come as the complete set (they replace org-days)."""
    daily = [spec for spec in DAILY_TABLES if spec.key in chosen]
    if not daily:
        return
    if EVENTS.key in chosen:
        raise InputError(
            f"usage events ({chosen[EVENTS.key].path.name}) and daily usage rollups "
            f"({', '.join(chosen[s.key].path.name for s in daily)}) can't be imported together: "
            "import one or the other"
        )
    missing = [spec.file_names[0] for spec in DAILY_TABLES if spec.key not in chosen]
    if missing:
        raise InputError(
            f"daily usage rollups come as {', '.join(s.file_names[0] for s in DAILY_TABLES)} together "
            f"(missing: {', '.join(missing)})"
        )
    assert DAILY.key in chosen


@dataclass(frozen=True)
class Header:
    names: list[str]  # normalized: stripped, lower case
    line: int  # physical line of a CSV header; 0 for a Parquet schema


class FileProblem(Exception):
    """A whole-file problem (empty, not UTF-8, unreadable); carries the line."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(reason)
        self.line = line
        self.reason = reason


@dataclass(frozen=True)
class StructureProblem:
    """A CSV row the contract can't even be applied to: wrong number of cells, broken quoting."""

    line: int
    column: str | None
    reason: str


class MalformedFile(Exception):
    """A CSV file with structural problems; ``problems`` in file order, ``total`` found."""

    def __init__(self, problems: list[StructureProblem], total: int) -> None:
        super().__init__(f"{total} structural problems")
        self.problems = problems
        self.total = total


def read_header(path: Path) -> Header:
    """The first non-blank row of a CSV file, its names stripped and lower-cased. Only the
    lines up to the header are read, so a bad byte further down is reported on its own line
    by ``structure_problems``."""
    with open(path, "rb") as fh:
        reader = csv.reader(_decoded_lines(fh), strict=True)
        try:
            for row in reader:
                if row:
                    return Header([name.strip().lower() for name in row], reader.line_num)
        except csv.Error as exc:
            raise FileProblem(reader.line_num, _quoting_reason(str(exc))) from None
    raise FileProblem(1, "file is empty (no header row)")


def _decoded_lines(fh: BinaryIO) -> Iterator[str]:
    for number, raw in enumerate(fh, 1):
        try:
            yield raw.decode(CSV_ENCODING if number == 1 else "utf-8")
        except UnicodeDecodeError as exc:
            raise FileProblem(number, _undecodable(raw, exc, number)) from None


def _undecodable(raw: bytes, exc: UnicodeDecodeError, number: int) -> str:
    offset = exc.start + (3 if number == 1 and raw.startswith(b"\xef\xbb\xbf") else 0)
    return f"not UTF-8 text (byte 0x{raw[offset]:02x} at position {offset + 1} of the line)"


def header_problems(header: Header, spec: TableSpec) -> list[tuple[str, str]]:
    """(column, reason) for each missing, unknown or repeated column of a header."""
    problems: list[tuple[str, str]] = []
    seen: set[str] = set()
    for name in header.names:
        if name in seen:
            problems.append((name, "duplicate column"))
        elif name not in spec.names:
            shown = name or "(empty)"
            problems.append((shown, f"unknown column (the {spec.label} columns are {', '.join(spec.names)})"))
        seen.add(name)
    for name in spec.required:
        if name not in seen:
            problems.append((name, "missing required column"))
    return problems


def first_undecodable_line(path: Path) -> tuple[int, str] | None:
    """(physical line, reason) of the first line that is not UTF-8, if any.

    Lines are split on the newline byte, which no multi-byte UTF-8 character contains, so
    the line found is the one a text editor shows.
    """
    with open(path, "rb") as fh:
        for number, raw in enumerate(fh, 1):
            try:
                raw.decode(CSV_ENCODING if number == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                return number, _undecodable(raw, exc, number)
    return None


def structure_problems(path: Path, header: Header) -> MalformedFile | None:
    """Every data row whose cell count differs from the header's, or the first broken
    quoting or encoding, with physical lines; None when the file is well formed.

    This reads the file with Python's csv module (strict quoting), so it is only run when
    the fast reader has already refused the file: the messages and lines come from here.
    """
    undecodable = first_undecodable_line(path)
    if undecodable is not None:
        line, reason = undecodable
        return MalformedFile([StructureProblem(line, None, reason)], 1)
    problems: list[StructureProblem] = []
    total = 0
    with open(path, newline="", encoding=CSV_ENCODING) as fh:
        reader = csv.reader(fh, strict=True)
        prev_end = 0
        try:
            for row in reader:
                start, prev_end = prev_end + 1, reader.line_num
                if not row or start <= header.line:
                    continue
                problem = _width_problem(row, start, header.names)
                if problem is not None:
                    total += 1
                    if len(problems) < MAX_STRUCTURE_PROBLEMS:
                        problems.append(problem)
        except csv.Error as exc:
            total += 1
            problems.append(StructureProblem(prev_end + 1, None, _quoting_reason(str(exc))))
    return MalformedFile(problems, total) if total else None


def _width_problem(row: list[str], line: int, names: list[str]) -> StructureProblem | None:
    width = len(names)
    if len(row) > width:
        return StructureProblem(line, None, f"row has {len(row)} fields, the header has {width}")
    if len(row) < width:
        missing = names[len(row)]
        return StructureProblem(line, missing, f"missing cell (row has {len(row)} fields, the header has {width})")
    return None


def _quoting_reason(message: str) -> str:
    if "unexpected end of data" in message:
        return "unterminated quoted value (its closing quote is missing)"
    if "expected after" in message:
        return "text after a closing quote (a quoted value must end at a comma or the end of the line)"
    return "malformed quoting"


def log_file_problem(errors: ErrorLog, f: InputFile, exc: MalformedFile | FileProblem) -> None:
    """Count a whole-file problem (or a malformed file's rows) as import errors."""
    if isinstance(exc, FileProblem):
        errors.add_line_error(f.label, f.path, exc.line, None, exc.reason)
        return
    for problem in exc.problems:
        errors.add_line_error(f.label, f.path, problem.line, problem.column, problem.reason)
    errors.count += exc.total - len(exc.problems)
