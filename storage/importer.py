"""Import: orgs, subscriptions, support tickets, survey responses, and usage as raw events
or as daily rollups, from CSV or Parquet files.

``import_paths`` is the one entry point (the CLI's ``saas-tracker import`` calls it).

* **Atomic.** Every file is validated row by row; any error anywhere rejects the whole
  import (``ImportRejected`` with ``file:line: column: reason`` for the first errors and
  the total count) and nothing is written: all files go through one transaction, rolled
  back on any error. Validation keeps going after the first error so one run shows as
  many problems as possible.
* **Idempotent.** Orgs, subscriptions and tickets are upserted by id; survey responses are
  unique by (org, user, time, score); events are de-duplicated by a durable key (see
  ``storage.event_keys``), so importing the same files twice changes nothing and an
  overlapping second events file only adds the events that are new. Daily rollup files
  replace the org-days they name (``storage.daily_import``).
* **Rolled up.** Events are never stored raw: they are read into a DuckDB scratch database
  (``storage.reader``), validated in chunks, and the new ones grouped per org and UTC day
  (``storage.event_import``), so a ten-million-row file imports in bounded memory.

Order is orgs → subscriptions → tickets → surveys → usage, so later files may refer to
orgs defined in the same import.

**One application per org.** Org ids are global keys, so an orgs row whose id is stored
under another application is an error (importing it would silently move the org and its
revenue to another product). The rows of the other files may only name orgs of the
applications being imported: those of the orgs file's rows when the import has one, else
the ``application`` option's.

``dry_run`` performs the whole import inside the transaction and rolls it back: the
counts are exactly what a real run would report.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from domain.vocabulary import DEFAULT_APPLICATION
from storage.csv_contract import (
    CHOICE,
    COUNT,
    CURRENCY,
    DAILY_TABLES,
    DATE,
    EVENTS,
    MONEY,
    ORGS,
    SCORE,
    SUBSCRIPTIONS,
    SURVEYS,
    TEXT,
    TICKETS,
    TIMESTAMP,
    ColumnSpec,
    TableSpec,
)
from storage.csv_files import (
    FileProblem,
    Header,
    InputError,
    InputFile,
    MalformedFile,
    header_problems,
    log_file_problem,
    resolve_inputs,
)
from storage.daily_import import DailyImport
from storage.db import get_or_create_application, transaction
from storage.event_import import EventImport
from storage.models import Application, Org, Subscription, SupportTicket, SurveyResponse
from storage.reader import WORK_MEMORY_VARIABLE, WorkDB, file_header, frames, load_file, work_memory
from storage.upsert import TableCounts, insert_missing, upsert_by_id
from storage.validation import (
    MAX_REPORTED_ERRORS,
    ErrorLog,
    Issue,
    RowError,
    check_frame,
    duplicate_issue,
    foreign_org_issue,
    unknown_org_issue,
)

# Events (and daily rollup rows) are validated this many rows at a time: ~100 MB of pandas
# text at most, whatever the file size.
EVENT_CHUNK_ROWS = 100_000
CENT = Decimal("0.01")

_MODELS: dict[str, type] = {
    ORGS.key: Org,
    SUBSCRIPTIONS.key: Subscription,
    TICKETS.key: SupportTicket,
    SURVEYS.key: SurveyResponse,
}

__all__ = ["ImportOutOfMemory", "ImportRejected", "ImportReport", "InputError", "RowError", "TableCounts",
           "import_paths"]


@dataclass
class ImportReport:
    """What an import did (or, for a dry run, would do)."""

    files: list[str] = field(default_factory=list)
    tables: list[str] = field(default_factory=list)  # keys of the tables given, import order
    applications: list[str] = field(default_factory=list)
    orgs: TableCounts = field(default_factory=TableCounts)
    subscriptions: TableCounts = field(default_factory=TableCounts)
    tickets: TableCounts = field(default_factory=TableCounts)
    surveys: TableCounts = field(default_factory=TableCounts)
    events_read: int = 0
    events_new: int = 0
    events_duplicate: int = 0
    # (org, day) rows of usage_daily created or changed by new events.
    days_touched: int = 0
    # Daily rollup files: rows given, org-days new and replaced.
    daily_rows: int = 0
    daily_user_rows: int = 0
    daily_feature_rows: int = 0
    days_new: int = 0
    days_replaced: int = 0
    dry_run: bool = False
    seconds: float = 0.0


class ImportRejected(Exception):
    """The import had errors and wrote nothing; ``errors`` are the first few, ``total`` all."""

    def __init__(self, errors: list[RowError], total: int) -> None:
        self.errors = errors
        self.total = total
        shown = "\n".join(str(e) for e in errors)
        super().__init__(f"{total} error{'s' if total != 1 else ''}; nothing was written\n{shown}")


class ImportOutOfMemory(Exception):
    """DuckDB could not do the import's work within its memory limit; nothing was written."""

    def __init__(self, limit: str) -> None:
        super().__init__(
            f"the files need more working memory than the import's {limit} ({WORK_MEMORY_VARIABLE}); "
            f"nothing was written. Give it more (for example {WORK_MEMORY_VARIABLE}=4GB), or import "
            "daily rollups (usage_daily*.csv) instead of raw events")
        self.limit = limit


class _DryRun(Exception):
    def __init__(self, report: ImportReport) -> None:
        super().__init__("dry run")
        self.report = report


def import_paths(
    paths: Sequence[str | Path],
    session_factory: sessionmaker[Session],
    *,
    application: str | None = None,
    dry_run: bool = False,
    progress: bool = False,
    chunk_rows: int = EVENT_CHUNK_ROWS,
    max_errors: int = MAX_REPORTED_ERRORS,
) -> ImportReport:
    """Import the CSV files in ``paths`` (directories and/or files) in one transaction.

    ``application`` names the application of imported orgs whose row has no
    ``application`` value (default ``config.DEFAULT_APPLICATION``). Raises ``InputError``
    when the paths can't be used at all, ``ImportRejected`` when any row is bad,
    ``ImportOutOfMemory`` when DuckDB can't do the work within its memory limit.
    """
    files = resolve_inputs(paths)
    started = time.perf_counter()
    limit = work_memory()
    try:
        with transaction(session_factory) as session, WorkDB(limit) as work:
            run = _Import(session, work, application or DEFAULT_APPLICATION, progress, chunk_rows, max_errors)
            report = run.run(files)
            if run.errors:
                raise ImportRejected(run.errors.errors(), run.errors.count)
            report.seconds = time.perf_counter() - started
            if dry_run:
                report.dry_run = True
                raise _DryRun(report)
    except _DryRun as done:
        return done.report
    except duckdb.OutOfMemoryException:
        raise ImportOutOfMemory(limit) from None
    return report


class _Import:
    def __init__(self, session: Session, work: WorkDB, application: str, progress: bool, chunk_rows: int,
                 max_errors: int) -> None:
        self.session = session
        self.work = work
        self.application = application
        self.progress = progress
        self.chunk_rows = chunk_rows
        self.errors = ErrorLog(limit=max_errors)
        self.report = ImportReport()
        stored = session.execute(select(Org.org_id, Application.name).join(Application)).all()
        # Stored org id -> its application's name.
        self.stored_apps = pd.Series([a for _, a in stored], index=pd.Index([o for o, _ in stored], dtype=object),
                                     dtype=object)
        # The applications being imported and the org ids the other files may name.
        self.scope: list[str] = [application]
        self.known_orgs = self._orgs_of(self.scope)

    def run(self, files: list[InputFile]) -> ImportReport:
        self.report.files = [f.label for f in files]
        self.report.tables = [f.spec.key for f in files]
        daily: dict[str, tuple[InputFile, Header]] = {}
        for f in files:
            try:
                header = file_header(f)
                problems = header_problems(header, f.spec)
                for column, reason in problems:
                    self.errors.add_line_error(f.label, f.path, header.line, column, reason)
                if problems:
                    continue
                if f.spec is EVENTS:
                    self._events(f, header)
                elif f.spec in DAILY_TABLES:
                    daily[f.spec.key] = (f, header)
                else:
                    self._table(f, header)
            except (MalformedFile, FileProblem) as exc:
                log_file_problem(self.errors, f, exc)
        if daily and len(daily) == len(DAILY_TABLES):
            self._daily(daily)
        return self.report

    # -- orgs, subscriptions, tickets, surveys: small enough to read whole ----------------

    def _table(self, f: InputFile, header: Header) -> None:
        spec = f.spec
        order = {name: i for i, name in enumerate(header.names)}
        load_file(self.work, f, header, f"raw_{spec.key}")
        records, frame = next(frames(self.work, f"raw_{spec.key}", header.names, None))
        parsed, issues = check_frame(frame, spec, order)
        issues += self._relation_issues(spec, frame, order, records)
        if spec is ORGS:
            issues += self._org_file_scope(frame, order)
        self.errors.add_issues(f.label, f.path, records, issues)
        counts: TableCounts = getattr(self.report, spec.key)
        if self.errors:
            counts.rows = len(frame)
            return
        rows = _rows(spec, parsed)
        if spec is ORGS:
            rows = self._with_application(rows)
        defaults = {c.target: c.default for c in spec.columns if c.name not in parsed and c.stored}
        if spec.id_column:
            result = upsert_by_id(self.session, _MODELS[spec.key], spec.column(spec.id_column).target, rows, defaults)
        else:
            rows = [{**defaults, **r} for r in rows]
            unique = list(spec.natural_key)
            result = insert_missing(self.session, _MODELS[spec.key], _unique_rows(rows, unique), unique)
            result.rows = len(rows)
            result.unchanged = result.rows - result.inserted
        setattr(self.report, spec.key, result)

    def _relation_issues(self, spec: TableSpec, frame: pd.DataFrame, order: dict[str, int],
                         records: np.ndarray) -> list[Issue]:
        found: list[Issue | None] = []
        if spec.id_column:
            found.append(duplicate_issue(frame[spec.id_column], spec.id_column, order[spec.id_column], records))
        if spec is not ORGS:
            found.append(unknown_org_issue(frame["org_id"], self.known_orgs, order["org_id"], self.scope))
        return [i for i in found if i is not None]

    def _org_file_scope(self, frame: pd.DataFrame, order: dict[str, int]) -> list[Issue]:
        """Check the orgs rows against the applications their ids are stored under, and make
        the rows' applications the ones the other files' org ids must belong to."""
        ids = frame["org_id"]
        if "application" in frame:
            apps = frame["application"].where(frame["application"] != "", self.application)
        else:
            apps = pd.Series(self.application, index=frame.index, dtype=object)
        named = ids != ""
        if named.any():
            self.scope = sorted(set(apps[named]))
        self.known_orgs = self._orgs_of(self.scope).union(pd.Index(ids[named].unique(), dtype=object))
        issue = foreign_org_issue(ids, apps, self.stored_apps, order["org_id"])
        return [] if issue is None else [issue]

    def _orgs_of(self, applications: list[str]) -> pd.Index:
        return self.stored_apps.index[self.stored_apps.isin(applications).to_numpy()]

    def _with_application(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        names = sorted({r.get("application") or self.application for r in rows})
        ids = {name: get_or_create_application(self.session, name).id for name in names}
        self.report.applications = names
        out = []
        for r in rows:
            r = dict(r)
            r["application_id"] = ids[r.pop("application", None) or self.application]
            out.append(r)
        return out

    # -- usage: raw events, or daily rollups -----------------------------------------------------

    def _events(self, f: InputFile, header: Header) -> None:
        run = EventImport(self.session.connection(), self.work, self.errors, self.chunk_rows, self.progress,
                          lambda chunk, records, order: self._relation_issues(EVENTS, chunk, order, records),
                          self.known_orgs)
        run.validate(f, header)
        self.report.events_read = run.counts.read
        if self.errors:
            return
        run.write(f)
        if self.errors:
            return
        self.report.events_new = run.counts.new
        self.report.events_duplicate = run.counts.duplicate
        self.report.days_touched = run.counts.days_touched

    def _daily(self, files: dict[str, tuple[InputFile, Header]]) -> None:
        run = DailyImport(self.session.connection(), self.work, self.errors, self.chunk_rows,
                          lambda spec, chunk, records, order: self._relation_issues(spec, chunk, order, records))
        run.validate(files)
        if self.errors:
            return
        counts = run.write()
        if self.errors:
            return
        self.report.daily_rows = counts.days
        self.report.daily_user_rows = counts.users
        self.report.daily_feature_rows = counts.features
        self.report.days_new = counts.new_days
        self.report.days_replaced = counts.days - counts.new_days


def _unique_rows(rows: list[dict[str, Any]], unique: list[str]) -> list[dict[str, Any]]:
    seen: set[tuple[Any, ...]] = set()
    out = []
    for r in rows:
        k = tuple(r[c] for c in unique)
        if k not in seen:
            seen.add(k)
            out.append(r)
    return out


def _rows(spec: TableSpec, parsed: dict[str, pd.Series]) -> list[dict[str, Any]]:
    """Parsed columns → one dict per row, keyed by model attribute, Python-typed."""
    columns = {spec.column(name).target: _python_values(spec.column(name), values) for name, values in parsed.items()}
    names = list(columns)
    return [dict(zip(names, values)) for values in zip(*columns.values())]


def _python_values(col: ColumnSpec, values: pd.Series) -> list[Any]:
    if col.kind in (TEXT, CHOICE, CURRENCY):
        return [v if v != "" else col.default for v in values.tolist()]
    if col.kind in (TIMESTAMP, DATE):
        naive = values.dt.tz_localize(None).to_numpy().astype("datetime64[us]").astype(object)
        if col.kind == DATE:
            return [None if v is None else v.date() for v in naive]
        return [None if v is None else v.replace(tzinfo=dt.timezone.utc) for v in naive]
    floats = values.tolist()
    if col.kind == MONEY:
        return [None if _missing(v) else Decimal(repr(v)).quantize(CENT, ROUND_HALF_UP) for v in floats]
    if col.kind == COUNT or (col.kind == SCORE and col.integer):
        return [col.default if _missing(v) else int(v) for v in floats]
    return [None if _missing(v) else float(v) for v in floats]


def _missing(v: Any) -> bool:
    return v is None or v != v
