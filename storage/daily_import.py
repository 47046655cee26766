"""Daily rollup files: usage aggregated elsewhere (a warehouse), imported per org-day.

Past one machine, the heavy part of the events import (reading every event, de-duplicating,
grouping per org and day) belongs in the warehouse that already holds the events; the
product then takes only the per-org-day rows a scan reads. Three files, together
(``storage.csv_contract.DAILY_TABLES``):

* ``usage_daily``: org_id, day, events (the sum of the day's event counts), last_event_at;
* ``usage_daily_users``: org_id, day, user_id, events — who was active that day;
* ``usage_daily_features``: org_id, day, feature, events — which features were used.

The per-user and per-feature rows are needed because a scan counts *distinct* users and
features over 14-day windows, which no sum of daily counts can give.

Beyond each row's own checks, the files must agree: an org-day appears once per file (a user
or feature once per org-day), every user and feature row belongs to an org-day of
``usage_daily``, and a day's ``events`` equals the sum over its users and over its features.

Each org-day given **replaces** what is stored for it (``storage.rollup.replace_rollups``):
importing the same files again changes nothing, and a corrected export simply wins. The
org-days are also remembered as rollup days (``storage.event_keys.day_marker_keys``): raw
events for them are refused later, so the two sources are never added up.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from sqlalchemy.engine import Connection

from storage.csv_contract import DAILY, DAILY_FEATURES, DAILY_TABLES, DAILY_USERS, TableSpec
from storage.csv_files import FileProblem, Header, InputFile, MalformedFile, log_file_problem
from storage.event_keys import MICROS_PER_DAY, KeyStore, day_marker_keys, text_hash
from storage.reader import WorkDB, frames, load_file
from storage.rollup import RollupCounts, replace_rollups
from storage.validation import ErrorLog, Issue, check_frame
from storage.usage_numbers import number_features, number_orgs, number_users

RelationCheck = Callable[[TableSpec, pd.DataFrame, np.ndarray, dict[str, int]], list[Issue]]

# DuckDB tables of the validated rows, one per file: (record, key columns..., events[, last_us]).
_TYPED = {
    DAILY.key: "rec BIGINT, org_id VARCHAR, day DATE, events BIGINT, last_us BIGINT",
    DAILY_USERS.key: "rec BIGINT, org_id VARCHAR, day DATE, user_id VARCHAR, events BIGINT",
    DAILY_FEATURES.key: "rec BIGINT, org_id VARCHAR, day DATE, feature VARCHAR, events BIGINT",
}
# What a repeated key is called in its message: the column it is reported on, and a noun.
_DUPLICATE = {
    DAILY.key: ("day", None),
    DAILY_USERS.key: ("user_id", "user"),
    DAILY_FEATURES.key: ("feature", "feature"),
}


def _table(spec: TableSpec) -> str:
    return f"typed_{spec.key}"


class DailyImport:
    """The three rollup files through validation (``validate``) and into the database (``write``)."""

    def __init__(self, conn: Connection, work: WorkDB, errors: ErrorLog, chunk_rows: int,
                 relation_check: RelationCheck) -> None:
        self.conn = conn
        self.work = work
        self.errors = errors
        self.chunk_rows = chunk_rows
        self.relation_check = relation_check
        self.files: dict[str, InputFile] = {}

    # -- validation ------------------------------------------------------------------------

    def validate(self, files: dict[str, tuple[InputFile, Header]]) -> None:
        for spec in DAILY_TABLES:
            f, header = files[spec.key]
            self.files[spec.key] = f
            self.work.con.execute(f"CREATE OR REPLACE TABLE {_table(spec)} ({_TYPED[spec.key]})")
            try:
                self._rows(spec, f, header)
            except (MalformedFile, FileProblem) as exc:
                log_file_problem(self.errors, f, exc)
        if not self.errors:
            self._agreement()

    def _rows(self, spec: TableSpec, f: InputFile, header: Header) -> None:
        order = {name: i for i, name in enumerate(header.names)}
        load_file(self.work, f, header, f"raw_{spec.key}")
        for records, chunk in frames(self.work, f"raw_{spec.key}", header.names, self.chunk_rows):
            parsed, issues = check_frame(chunk, spec, order)
            issues += self.relation_check(spec, chunk, records, order)
            if spec is DAILY:
                issues += _off_day(parsed, chunk, order)
            self.errors.add_issues(f.label, f.path, records, issues)
            if not self.errors:
                self._append(spec, records, chunk, parsed)

    def _append(self, spec: TableSpec, records: np.ndarray, chunk: pd.DataFrame, parsed: dict[str, pd.Series]) -> None:
        day = parsed["day"].dt.as_unit("us").astype("int64").to_numpy() // MICROS_PER_DAY
        columns: dict[str, object] = {"rec": records, "org_id": chunk["org_id"], "dayn": day}
        if spec is DAILY_USERS:
            columns["user_id"] = chunk["user_id"]
        if spec is DAILY_FEATURES:
            columns["feature"] = chunk["feature"]
        columns["events"] = parsed["events"].astype("int64").to_numpy()
        if spec is DAILY:
            columns["last_us"] = parsed["last_event_at"].dt.as_unit("us").astype("int64").to_numpy()
        frame = pd.DataFrame(columns)
        names = [c if c != "dayn" else f"CAST(make_timestamp(dayn * {MICROS_PER_DAY}) AS DATE)" for c in columns]
        self.work.con.register("typed_chunk", frame)
        try:
            self.work.con.execute(f"INSERT INTO {_table(spec)} SELECT {', '.join(names)} FROM typed_chunk")
        finally:
            self.work.con.unregister("typed_chunk")

    def _agreement(self) -> None:
        """The checks across rows and files (module docstring), as DuckDB queries."""
        for spec in DAILY_TABLES:
            self._duplicates(spec)
        for spec in (DAILY_USERS, DAILY_FEATURES):
            self._orphans(spec)
        for spec in (DAILY_USERS, DAILY_FEATURES):
            self._sums(spec)

    def _report(self, spec: TableSpec, column: str, query: str, reason: Callable[[tuple], str],
                related: bool = False) -> None:
        """Count the rows of ``query`` (first column: the record) and keep the first few."""
        con = self.work.con
        total = int(self.work.value(f"SELECT count(*) FROM ({query})"))
        if not total:
            return
        shown = con.execute(f"SELECT * FROM ({query}) ORDER BY 1 LIMIT {self.errors.limit}").fetchall()
        f = self.files[spec.key]
        rows = [(int(r[0]), reason(r), int(r[1]) if related else None) for r in shown]
        self.errors.add_records(f.label, f.path, column, rows, total)

    def _duplicates(self, spec: TableSpec) -> None:
        keys = ", ".join(spec.unique_key)
        column, noun = _DUPLICATE[spec.key]
        query = (f"SELECT rec, first_rec, org_id, day{', ' + column if noun else ''} FROM "
                 f"(SELECT *, min(rec) OVER (PARTITION BY {keys}) AS first_rec FROM {_table(spec)}) "
                 "WHERE rec <> first_rec")

        def reason(r: tuple) -> str:
            org_day = f'org-day "{r[2]}" {r[3].isoformat()}'
            return f"duplicate {org_day}" if noun is None else f'duplicate {noun} "{r[4]}" on {org_day}'

        self._report(spec, column, query, reason, related=True)

    def _orphans(self, spec: TableSpec) -> None:
        daily_name = self.files[DAILY.key].path.name
        query = f"SELECT rec, org_id, day FROM {_table(spec)} ANTI JOIN {_table(DAILY)} USING (org_id, day)"
        self._report(spec, "day", query, lambda r: f'org-day "{r[1]}" {r[2].isoformat()} is not in {daily_name}')

    def _sums(self, spec: TableSpec) -> None:
        other = self.files[spec.key].path.name
        query = (f"SELECT d.rec, d.events, coalesce(s.total, 0) FROM {_table(DAILY)} d "
                 f"LEFT JOIN (SELECT org_id, day, sum(events) AS total FROM {_table(spec)} GROUP BY ALL) s "
                 "USING (org_id, day) WHERE d.events <> coalesce(s.total, 0)")
        self._report(DAILY, "events", query, lambda r: f"{r[1]} events, but the rows of {other} add up to {r[2]}")

    # -- writing ---------------------------------------------------------------------------

    def write(self) -> RollupCounts:
        """Remember the org-days given as rollup days (which takes the import's lock, before
        anything is numbered) and replace them, keyed by number (``storage.usage_numbers``)."""
        con = self.work.con
        self._remember_days()
        number_orgs(self.conn, self.work, f"SELECT org_id FROM {_table(DAILY)}")
        number_users(self.conn, self.work, f"SELECT org_id, user_id FROM {_table(DAILY_USERS)}")
        number_features(self.conn, self.work, f"SELECT feature FROM {_table(DAILY_FEATURES)}")
        con.execute(f"""CREATE OR REPLACE TABLE dl_users AS SELECT n.org_key, t.day, n.user_key, t.events
            FROM {_table(DAILY_USERS)} t JOIN num_users n USING (org_id, user_id)""")
        con.execute(f"""CREATE OR REPLACE TABLE dl_features AS SELECT o.org_key, t.day, n.feature_key, t.events
            FROM {_table(DAILY_FEATURES)} t JOIN num_orgs o USING (org_id) JOIN num_features n USING (feature)""")
        con.execute(f"""CREATE OR REPLACE TABLE dl_daily AS
            SELECT o.org_key, d.day, d.events, d.last_us, u.n AS active_users, f.n AS distinct_features
            FROM {_table(DAILY)} d JOIN num_orgs o USING (org_id)
            JOIN (SELECT org_key, day, count(*) AS n FROM dl_users GROUP BY ALL) u USING (org_key, day)
            JOIN (SELECT org_key, day, count(*) AS n FROM dl_features GROUP BY ALL) f USING (org_key, day)""")
        return replace_rollups(self.conn, self.work, "dl")

    def _remember_days(self) -> None:
        con = self.work.con
        days = con.execute(
            "SELECT org_id, CAST(date_diff('day', DATE '1970-01-01', day) AS BIGINT) AS dayn "
            f"FROM {_table(DAILY)}").fetchnumpy()
        org_ids = pd.Series(np.asarray(days["org_id"], dtype=object))
        markers = day_marker_keys(text_hash(org_ids), np.asarray(days["dayn"], dtype=np.int64))
        con.register("marker_frame", pd.DataFrame({"key": np.unique(markers)}))
        con.execute("CREATE OR REPLACE TABLE day_markers AS SELECT key FROM marker_frame")
        con.unregister("marker_frame")
        keys = KeyStore(self.conn, self.work)
        keys.stored_into("SELECT key FROM day_markers", "known_markers")
        keys.store("SELECT key FROM day_markers ANTI JOIN known_markers USING (key)")


def _off_day(parsed: dict[str, pd.Series], chunk: pd.DataFrame, order: dict[str, int]) -> list[Issue]:
    """``last_event_at`` must fall on its row's UTC ``day``: it is that day's last event."""
    last, day = parsed["last_event_at"], parsed["day"]
    off = (last.dt.floor("D") != day).to_numpy(dtype=bool) & last.notna().to_numpy() & day.notna().to_numpy()
    if not off.any():
        return []
    days = day.dt.strftime("%Y-%m-%d").to_numpy(dtype=object)
    return [Issue("last_event_at", order["last_event_at"], off, lambda i: f"not on {days[i]} (UTC)")]
