"""Finding the import's files and reading them: headers checked up front, rows in chunks.

Every cell is read as text (``dtype=object``, no NA guessing) so "0012" stays "0012" and an
empty cell is "" — the validator, not pandas, decides what a value means.
"""

from __future__ import annotations

import csv
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from storage.csv_contract import TABLES, TableSpec, accepted_file_names, table_for_file_name
from storage.validation import CSV_ENCODING


class InputError(ValueError):
    """The paths given can't be imported at all (missing, unknown file name, ambiguous)."""


@dataclass(frozen=True)
class InputFile:
    spec: TableSpec
    path: Path

    @property
    def label(self) -> str:
        return str(self.path)


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
                    f"{path}: no importable files (expected any of {', '.join(accepted_file_names())})"
                )
        elif path.is_file():
            if table_for_file_name(path.name) is None:
                raise InputError(
                    f"{path}: unknown file name (expected one of {', '.join(accepted_file_names())})"
                )
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
    return [chosen[spec.key] for spec in TABLES if spec.key in chosen]


@dataclass(frozen=True)
class Header:
    names: list[str]  # normalized: stripped, lower case
    line: int


class FileProblem(Exception):
    """A whole-file problem found while reading (empty, not UTF-8); carries the line."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(reason)
        self.line = line
        self.reason = reason


def read_header(path: Path) -> Header:
    try:
        with open(path, newline="", encoding=CSV_ENCODING) as fh:
            reader = csv.reader(fh)
            for row in reader:
                if row:
                    return Header([name.strip().lower() for name in row], reader.line_num)
    except UnicodeDecodeError as exc:
        raise FileProblem(1, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    raise FileProblem(1, "file is empty (no header row)")


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


class RaggedRow(Exception):
    """A data row with more fields than the header: a shifted row would import wrong values."""

    def __init__(self, line: int, fields: int, width: int) -> None:
        super().__init__(f"line {line}")
        self.line = line
        self.reason = f"row has {fields} fields, the header has {width}"


def read_chunks(path: Path, header: Header, chunksize: int | None) -> Iterator[pd.DataFrame]:
    """Rows as text frames with stripped values; ``chunksize=None`` reads the file at once.

    Raises ``RaggedRow`` for the first row wider than the header (pandas would otherwise
    drop the extra field or, worse, turn the first column into the index).
    """
    width = len(header.names)
    options = dict(
        dtype=object,
        na_filter=False,
        encoding=CSV_ENCODING,
        header=0,
        names=header.names,
        index_col=False,
        skip_blank_lines=True,
        engine="c",
    )
    chunks: Iterator[pd.DataFrame] | None = None
    while True:
        try:
            # Only around pandas' own reading, so the caller's code never runs under this filter.
            with warnings.catch_warnings():
                warnings.simplefilter("error", pd.errors.ParserWarning)
                if chunks is None:
                    if chunksize is None:
                        chunks = iter([pd.read_csv(path, **options)])
                    else:
                        chunks = iter(pd.read_csv(path, chunksize=chunksize, **options))
                chunk = next(chunks)
        except StopIteration:
            return
        except (pd.errors.ParserError, pd.errors.ParserWarning) as exc:
            ragged = _first_wide_row(path, width)
            if ragged is None:
                raise FileProblem(1, f"unreadable CSV: {exc}") from exc
            raise RaggedRow(ragged[0], ragged[1], width) from exc
        except UnicodeDecodeError as exc:
            raise FileProblem(1, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
        for name in chunk.columns:
            chunk[name] = chunk[name].str.strip()
        yield chunk


def _first_wide_row(path: Path, width: int) -> tuple[int, int] | None:
    with open(path, newline="", encoding=CSV_ENCODING, errors="replace") as fh:
        reader = csv.reader(fh)
        prev_end = 0
        for row in reader:
            start, prev_end = prev_end + 1, reader.line_num
            if len(row) > width:
                return start, len(row)
    return None
