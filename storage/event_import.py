"""Usage events: read by DuckDB, validated, de-duplicated and rolled up set-based.

Why this shape: Python touches an event only to validate a row DuckDB can't vouch for and
to finish its durable key (``storage.event_keys``); everything else is one set operation
per file in the import's DuckDB scratch database, and every database row is written once.

1. ``validate``: the file is loaded into DuckDB as it is (``storage.reader``; the names are
   trimmed and checked once per distinct value, ``_hash_names``). A fast lane in SQL
   (``storage.validation.fast_lane``) vouches for the plainly valid rows (known org,
   canonical ISO time, whole count, ids within limits) and computes their time and count;
   only the other rows are streamed to the pandas validator, in chunks, which gives each bad
   row its exact message. With no errors, every row's (record, key, org hash, time, count)
   goes to DuckDB table ``ev``: org, user and event names are hashed once per distinct
   value, event ids chunk by chunk. Memory stays bounded by the chunk size and DuckDB's
   limit.
2. ``write``: keys repeated inside the file keep their first row; all unique keys (and the
   file's org-day markers) are looked up among the stored keys (``KeyStore``), which hands
   back the ones it already holds: those events were imported before. New events on an
   org-day that came from daily rollup files are errors (``storage.daily_import``). The new
   keys are stored (on PostgreSQL, while none is stored yet, already in step 1, as they are
   made: ``_store_while_keying``), and the new events grouped per org and UTC day, user and
   feature, then written by ``storage.rollup.add_rollups``, or on PostgreSQL, when none of
   their org-days is stored yet, each table as soon as it is grouped (``_roll_up_in_turn``). The grouping
   is by integer codes (each distinct org, user and event name's rank in byte order, given
   once per file in step 1), not by the names: integers group and sort faster. The codes
   are then turned into the stored numbers of the names (``storage.usage_numbers``), once
   per distinct name; for names the database never saw the number is the code plus a
   constant, with no join.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Table
from sqlalchemy.engine import Connection
from tqdm import tqdm

from storage.csv_contract import EVENTS, TEXT
from storage.csv_files import Header, InputFile
from storage.db import in_memory_sqlite
from storage.event_keys import (MICROS_PER_DAY, KeyStore, day_marker_keys, keys_from_hashes, utf8_text_hash)
from storage.reader import WorkDB, load_file, query_frames, quoted, trimmed
from storage.rollup import DAILY, FEATURES, USERS, add_rollups, staged_rollup_copy, stored_days
from storage.side_thread import alongside, fed_alongside, in_turn
from storage.staging import check_dialect
from storage.usage_numbers import Later, Numbered, number_features, number_orgs, number_users
from storage.validation import ErrorLog, Issue, check_frame, fast_lane, fast_text_ok

# Chunk frame, its record numbers, the header's column positions -> relation issues
# (unknown orgs), supplied by the importer, which knows the import's orgs.
RelationCheck = Callable[[pd.DataFrame, np.ndarray, dict[str, int]], list[Issue]]

_EV_COLUMNS = ("rec BIGINT, key BIGINT, org_h BIGINT, ts_us BIGINT, n BIGINT, "
               "org_c INTEGER, user_c INTEGER, event_c INTEGER")
_ROLLUP_DAY_COLUMN = "timestamp"
_HASHED = ("org_id", "user_id", "event")  # text fields of the key hashed once per distinct value
_KEY_CHUNKS_AHEAD = 16  # chunks of keys made but not yet stored, at most (``_keys``): 13 MB at 100k rows each


def _run_all(steps: list[Callable[[], None]]) -> None:
    for step in steps:
        step()


def _keys_kept(store: Callable[[], Callable[[], None]], keys_later: list[Callable[[], None]]) -> Callable[[], None]:
    """``store`` run, and what adds its indexes back appended to ``keys_later``."""
    def run() -> None:
        keys_later.append(store())

    return run


@dataclass
class EventCounts:
    read: int = 0
    new: int = 0
    duplicate: int = 0
    days_touched: int = 0


class EventImport:
    """One events file through validation, de-duplication and roll-up (module docstring)."""

    def __init__(self, conn: Connection, work: WorkDB, errors: ErrorLog, chunk_rows: int, progress: bool,
                 relation_check: RelationCheck, known_orgs: pd.Index) -> None:
        self.conn = conn
        self.known_orgs = known_orgs
        self.work = work
        self.errors = errors
        self.chunk_rows = chunk_rows
        self.progress = progress
        self.relation_check = relation_check
        self.counts = EventCounts()
        # Whether any key was stored before this file, when looked at before its keys were
        # made (``_store_while_keying``); None: not looked at yet.
        self.held_keys: bool | None = None
        self.keys_stored = False  # this file's keys, all of them, stored while they were made
        # How the roll-up's views get the org's and the feature's number (``_key_of``).
        self._org_key = self._feature_key = ("", "")

    # -- 1. validate -------------------------------------------------------------------------

    def validate(self, f: InputFile, header: Header) -> None:
        """Check every row; the (record, key, org hash, time, count) of valid rows go to
        DuckDB table ``ev``, in no particular order (``rec`` is the file record)."""
        self.counts.read = load_file(self.work, f, header, "raw_events", trim=False)
        names = set(header.names)
        self._known_orgs()
        unvouched = self._lane(names)
        bar = tqdm(desc=f.path.name, total=self.counts.read, unit=" events", unit_scale=True, file=sys.stderr,
                   disable=not self.progress)
        try:
            self._slow_lane(f, header, unvouched)
            # From here on the lane holds all the keys need: the file's text, the largest
            # table, spilled to disk at 100k orgs, goes before they are made.
            self.work.con.execute("DROP TABLE raw_events")
            if not self.errors:
                self._keys("event_id" in names, bar, self._store_while_keying())
        finally:
            bar.close()
            # Their memory counts against DuckDB's limit for the grouping that follows.
            # raw_events too: from here on the events are ``ev`` (codes, hashes, time and
            # count); the file's text is the largest table, and dropping it keeps the grouping
            # and sorting below within DuckDB's memory instead of spilling (30k orgs).
            for table in ("lane", "slow_ok", "known_orgs", "raw_events"):
                self.work.con.execute(f"DROP TABLE IF EXISTS {table}")
            for c in _HASHED:  # the names stay, by code, for the roll-up (``dict_<column>``)
                self.work.con.execute(f"CREATE OR REPLACE TABLE dict_{c} AS SELECT DISTINCT code, v FROM hash_{c}")
                self.work.con.execute(f"DROP TABLE IF EXISTS hash_{c}")

    def _known_orgs(self) -> None:
        frame = pd.DataFrame({"org_id": pd.Series(np.asarray(self.known_orgs, dtype=object), dtype=object)})
        self.work.con.register("known_org_frame", frame)
        self.work.con.execute("CREATE OR REPLACE TABLE known_orgs AS SELECT DISTINCT org_id FROM known_org_frame")
        self.work.con.unregister("known_org_frame")

    def _lane(self, names: set[str]) -> int:
        """DuckDB table ``lane``: per record, whether the fast lane vouches for it
        (``storage.validation.fast_lane``), its time and count, and the ``text_hash`` of its
        org, user and event name, each distinct name hashed once, and their codes: each
        distinct name's rank in byte order, so the roll-up groups and sorts integers and
        names are numbered once per distinct value (``_number``).

        Cells are loaded as they are (``load_file``): the names are trimmed once per distinct
        value (``_hash_names``), the event id here. The time and the count are not: whitespace
        around them fails the fast lane's patterns, and the rows it fails are given a second
        pass with every cell trimmed, which costs a file without such padding nothing and one
        with it a pass over those rows (not the validator's, a hundred times slower).
        Returns how many rows it did not vouch for."""
        con = self.work.con
        for column in _HASHED:
            self._hash_names(column)
        ids = [c.name for c in EVENTS.columns if c.kind == TEXT and c.name in names and c.name not in _HASHED]
        con.execute(f"CREATE OR REPLACE TABLE lane AS {self._lane_query(names, trim=ids)}")
        if not self._unvouched():
            return 0
        padded = [c.name for c in EVENTS.columns if c.name in names and c.name not in _HASHED]
        second = self._lane_query(names, trim=padded, where="r.rowid IN (SELECT rec FROM lane WHERE NOT ok)")
        con.execute(f"UPDATE lane SET ok = true, ts_us = t.ts_us, n = t.n FROM ({second}) t "
                    "WHERE lane.rec = t.rec AND t.ok")
        return self._unvouched()

    def _unvouched(self) -> int:
        # Counting the fast lane's verdicts reads one column; usually it vouches for every row.
        return int(self.work.value("SELECT count(*) FROM lane WHERE NOT ok"))

    def _lane_query(self, names: set[str], trim: list[str], where: str = "") -> str:
        """``fast_lane`` over the loaded events (``raw_events``, optionally restricted by
        ``where``) with their names' hashes, codes and verdicts (``_hash_names``), the
        ``trim`` columns trimmed. The event id rides along, so the keys are made from the
        lane alone (``_keys``)."""
        joins = " ".join(f"LEFT JOIN hash_{c} h_{c} ON h_{c}.raw = r.{quoted(c)}" for c in _HASHED)
        hashes = [f"h_{c}" for c in _HASHED]
        codes = [f"c_{c}" for c in _HASHED]
        carried = ["event_id"] if "event_id" in names else []
        replacements = ", ".join(f"{trimmed(f'r.{quoted(c)}')} AS {quoted(c)}" for c in trim)
        replaced = f" REPLACE ({replacements})" if trim else ""
        source = (f"(SELECT r.rowid AS rec, r.*{replaced}, {', '.join(f'{h}.h AS {h}' for h in hashes)}, "
                  f"{', '.join(f'h_{c}.code AS c_{c}' for c in _HASHED)}, "
                  f"{', '.join(f'h_{c}.ok AS ok_{c}' for c in _HASHED)} FROM raw_events r {joins}"
                  f"{f' WHERE {where}' if where else ''})")
        return fast_lane(EVENTS, names, source, "known_orgs", hashes + codes + carried,
                         checked={c: f"ok_{c}" for c in _HASHED})

    def _hash_names(self, column: str) -> None:
        """DuckDB table ``hash_<column>``: per distinct cell of the column as loaded (``raw``),
        its trimmed name ``v``, the name's ``text_hash`` ``h`` and code (its rank among the
        distinct names in byte order: cells that differ only in the whitespace around them
        are one name), and ``ok``, whether the fast lane vouches for the name
        (``storage.validation.fast_text_ok``): each distinct value trimmed and checked once,
        not each of the file's cells."""
        con = self.work.con
        distinct = f"SELECT DISTINCT {quoted(column)} AS raw FROM raw_events"
        names = con.sql(f'SELECT raw, {trimmed("raw")} AS v FROM ({distinct})')
        table = names.to_arrow_table()
        con.register("hash_frame", table.append_column("h", pa.array(utf8_text_hash(table["v"]).view(np.int64))))
        con.execute(f"CREATE OR REPLACE TABLE hash_{column} AS "
                    "SELECT raw, v, h, CAST(dense_rank() OVER (ORDER BY v) - 1 AS INTEGER) AS code, "
                    f"{fast_text_ok(EVENTS, column, 'v', 'known_orgs')} AS ok FROM hash_frame")
        con.unregister("hash_frame")

    def _slow_lane(self, f: InputFile, header: Header, unvouched: int) -> None:
        """The ``unvouched`` rows the fast lane didn't vouch for, through the full validator
        (exact messages for the bad ones; parsed time and count for the good ones, into
        ``slow_ok``)."""
        order = {name: i for i, name in enumerate(header.names)}
        con = self.work.con
        con.execute("CREATE OR REPLACE TABLE slow_ok (rec BIGINT, ts_us BIGINT, n BIGINT)")
        # None (the usual case): the query below would join every row's text to the verdicts
        # (3.5 s at 100k orgs) for nothing.
        if not unvouched:
            return
        cols = ", ".join(trimmed(f"r.{quoted(n)}") for n in header.names)
        query = (f"SELECT l.rec AS __rec, {cols} FROM lane l JOIN raw_events r ON r.rowid = l.rec "
                 "WHERE NOT l.ok ORDER BY l.rec")
        for records, chunk in query_frames(self.work, query, header.names, self.chunk_rows):
            parsed, issues = check_frame(chunk, EVENTS, order)
            issues += self.relation_check(chunk, records, order)
            self.errors.add_issues(f.label, f.path, records, issues)
            if self.errors:
                continue
            count = (parsed["count"].fillna(1).astype("int64").to_numpy() if "count" in parsed
                     else np.ones(len(chunk), dtype=np.int64))
            ts_us = parsed["timestamp"].dt.as_unit("us").astype("int64").to_numpy()
            con.register("slow_chunk", pd.DataFrame({"rec": records, "ts_us": ts_us, "n": count}))
            con.execute("INSERT INTO slow_ok SELECT rec, ts_us, n FROM slow_chunk")
            con.unregister("slow_chunk")

    def _store_while_keying(self) -> KeyStore | None:
        """The key store, when this file's keys are to be stored as ``_keys`` makes them:
        on PostgreSQL, while none is stored (the keys locked from here on, ``KeyStore``).
        Then no key in the file can be old, and the server, idle while DuckDB and Python
        make the keys, takes them on a core left free by the hashing (one thread) instead
        of at the end of its own chain of writes. On SQLite the keys are stored in-process,
        beside the roll-up (``write``)."""
        if check_dialect(self.conn) != "postgresql":
            return None
        keys = KeyStore(self.conn, self.work)
        self.held_keys = keys.holds_any()
        return None if self.held_keys else keys

    def _keys(self, has_event_id: bool, bar: tqdm, store: KeyStore | None = None) -> None:
        """Every row valid: ``ev`` from the lane (with the slow lane's times and counts) and
        each row's event key. Only what a key is made of crosses into Python, chunk by chunk
        as Arrow batches: the ids are hashed from their UTF-8 buffer (``utf8_text_hash``) and
        no value becomes a Python object (profiled at 10k orgs: 1.5 s -> 0.5 s). The keys
        come back as one column, in the lane's order, and ``ev`` is the lane and that column
        side by side (DuckDB's POSITIONAL JOIN): at 100k orgs, inserting every row's eight
        columns chunk by chunk took 1.2 s, the one column and the join 0.6 s. With ``store``
        (``_store_while_keying``) each chunk's keys are also handed to a side thread that
        stores them, every row's key, repeats included (``write`` deals with those)."""
        con = self.work.con
        if self.work.count("slow_ok"):
            con.execute("UPDATE lane SET ts_us = s.ts_us, n = s.n FROM slow_ok s WHERE lane.rec = s.rec")
        con.execute("CREATE OR REPLACE TABLE ev_key (key BIGINT)")
        event_id = "l.event_id" if has_event_id else "''"
        query = f"SELECT l.h_org_id, l.h_user_id, l.h_event, {event_id} AS event_id, l.ts_us, l.n FROM lane l"
        # A cursor of its own: the keys are inserted on the connection while this reads. This
        # read and the POSITIONAL JOIN below both take the lane in its stored order: the work
        # database preserves insertion order, the join scans both tables on one thread, and
        # the UPDATE above changes the lane's rows in place.
        storing = fed_alongside(store.store_arrays, ahead=_KEY_CHUNKS_AHEAD) if store else nullcontext(None)
        with con.cursor() as cursor, storing as hand_over:
            for batch in cursor.sql(query).to_arrow_reader(self.chunk_rows):
                bar.update(batch.num_rows)
                keys = self._insert_keys(batch, has_event_id)
                if hand_over is not None and not hand_over(keys):
                    break  # the store failed: leaving the block raises what it raised
        self.keys_stored = store is not None
        # A key short would leave its row a NULL key (one event for all such rows), unseen.
        lane_rows, key_rows = self.work.count("lane"), self.work.count("ev_key")
        if lane_rows != key_rows:
            raise RuntimeError(f"event keys made for {key_rows:,} of {lane_rows:,} rows")
        con.execute(f"CREATE OR REPLACE TABLE ev ({_EV_COLUMNS})")
        con.execute("INSERT INTO ev SELECT l.rec, k.key, l.h_org_id, l.ts_us, l.n, l.c_org_id, l.c_user_id, l.c_event "
                    "FROM lane l POSITIONAL JOIN ev_key k")
        con.execute("DROP TABLE ev_key")

    def _insert_keys(self, batch: pa.RecordBatch, has_event_id: bool) -> np.ndarray:
        """The event keys of one batch of ``_keys``' query, appended to ``ev_key``, and
        returned."""
        def ints(name: str) -> np.ndarray:
            return batch.column(name).to_numpy(zero_copy_only=False)

        ids = batch.column("event_id")
        n_rows = batch.num_rows
        id_h = utf8_text_hash(ids) if has_event_id else np.zeros(n_rows, dtype=np.uint64)
        has_id = pc.binary_length(ids).to_numpy(zero_copy_only=False) > 0
        keys = keys_from_hashes(ints("h_org_id"), ints("h_user_id"), ints("h_event"), id_h, has_id, ints("ts_us"),
                                ints("n"))
        con = self.work.con
        con.register("key_chunk", pa.table({"key": keys}))
        con.execute("INSERT INTO ev_key SELECT key FROM key_chunk")
        con.unregister("key_chunk")
        return keys

    # -- 2. write ----------------------------------------------------------------------------

    def write(self, f: InputFile) -> None:
        """De-duplicate, check against rollup days, store keys and add the rollups."""
        con = self.work.con
        self._group("uniq", "SELECT key, min(rec) AS rec FROM {} GROUP BY key", "SELECT key, rec FROM ev", "key")
        keys = KeyStore(self.conn, self.work)
        if self.keys_stored and self.work.count("uniq") < self.counts.read:
            keys.forget_all()  # keys repeat in the file: its unique keys are stored below instead
            self.keys_stored = False
        if keys.holds_any() if self.held_keys is None else self.held_keys:
            self._markers()
            stored = keys.stored_into("SELECT key FROM uniq UNION ALL SELECT key FROM markers", "found")
        else:  # nothing imported yet, events or daily rollups: no event is old, no day refused
            con.execute("CREATE OR REPLACE TABLE markers (key BIGINT, org_h BIGINT, dayn BIGINT)")
            con.execute("CREATE OR REPLACE TABLE found (key BIGINT)")
            stored = 0
        con.execute("CREATE OR REPLACE TABLE new_recs AS SELECT rec FROM uniq ANTI JOIN found USING (key)")
        self._refuse_rollup_days(f)
        if self.errors:
            return
        self.counts.new = self.work.count("new_recs")
        self.counts.duplicate = self.counts.read - self.counts.new
        all_new = self.counts.new == self.counts.read
        new_keys = "SELECT key FROM uniq" + (" ANTI JOIN found USING (key)" if stored else "")

        def store_keys(reader: duckdb.DuckDBPyConnection) -> None:
            if not self.keys_stored:
                keys.store(new_keys, reader)

        known = self._known_days(all_new)
        if known == 0 and check_dialect(self.conn) == "postgresql":
            self.counts.days_touched = self._roll_up_in_turn(keys, store_keys, all_new)
            return
        # The keys go to the database on a side thread while DuckDB rolls the new events up:
        # the one waits on SQLite's inserts or PostgreSQL's server, the other is DuckDB's own
        # threads, so both cores work (``storage.side_thread``).
        with keys.reader() as reader, alongside(lambda: store_keys(reader), inline=in_memory_sqlite(self.conn)):
            self._group_new(all_new)
        self._number()
        for table in (USERS, FEATURES, DAILY):
            self._numbered_view(table)
        self.counts.days_touched = add_rollups(self.conn, self.work, "ne", coded=True, known=known).days

    def _known_days(self, all_new: bool) -> int | None:
        """``storage.rollup.stored_days`` for the days of the new events: how many of their
        org-days are stored already (None: no new events)."""
        keep = "" if all_new else "SEMI JOIN new_recs USING (rec)"
        first, last = self.work.row(f"SELECT min(ts_us) // {MICROS_PER_DAY}, max(ts_us) // {MICROS_PER_DAY} "
                                    f"FROM ev {keep}")
        if first is None:
            return None
        epoch = dt.date(1970, 1, 1)
        return stored_days(self.conn, self.work, "ne", (epoch + dt.timedelta(days=int(first)),
                                                        epoch + dt.timedelta(days=int(last))))

    def _roll_up_in_turn(self, keys: KeyStore, store_keys: Callable[[duckdb.DuckDBPyConnection], None],
                         all_new: bool) -> int:
        """PostgreSQL, none of the new events' org-days stored yet: each rollup table is
        staged as soon as DuckDB has grouped it and written on a side thread while DuckDB
        makes the next one (``storage.rollup.staged_rollup_copy``), and the keys after them
        unless they were stored as they were made (``_store_while_keying``).
        The server's work (the COPYs and the primary keys built after them, one after the
        other on the import's one connection) starts before the roll-up ends instead of
        after it, and with the first table, not after the keys: at 100k orgs the keys took
        1.3 s at the head of that chain, sharing the machine with the roll-up, and 0.9 s at
        its tail, DuckDB done. The primary keys are built after all three
        COPYs: a COPY keeps one core busy and leaves the other to DuckDB, where a key build
        takes both (PostgreSQL's parallel index build), so the builds wait for DuckDB to be
        done instead of taking turns with it. Returns the org-days."""
        primary_keys: list[Callable[[], None]] = []
        with keys.reader() as reader, in_turn() as turns:
            self._roll_up(all_new, turns.then, primary_keys, made=lambda table: turns.then(
                staged_rollup_copy(self.conn, self.work, table, "ne", keys_later=primary_keys)))
            turns.then(lambda: _run_all(primary_keys))
            turns.then(lambda: store_keys(reader))
        return self.work.count("nc_daily")

    def _markers(self) -> None:
        """DuckDB table ``markers`` (key, org_h, dayn): the rollup-day key of every org-day
        the file's unique events fall on."""
        con = self.work.con
        # With no key repeated in the file (the usual case) every event is unique: no join.
        unique = "" if self.work.count("uniq") == self.counts.read else "SEMI JOIN uniq USING (rec)"
        days = con.execute(
            f"SELECT org_h, ts_us // {MICROS_PER_DAY} AS dayn FROM ev {unique} GROUP BY ALL"
        ).fetchnumpy()
        org_h = np.asarray(days["org_h"], dtype=np.int64)
        dayn = np.asarray(days["dayn"], dtype=np.int64)
        frame = pd.DataFrame({"key": day_marker_keys(org_h.view(np.uint64), dayn), "org_h": org_h, "dayn": dayn})
        con.register("marker_frame", frame)
        con.execute("CREATE OR REPLACE TABLE markers AS SELECT * FROM marker_frame")
        con.unregister("marker_frame")

    def _refuse_rollup_days(self, f: InputFile) -> None:
        """New events on org-days imported from daily rollups are errors: added to those
        numbers they could count twice what the warehouse already counted."""
        con = self.work.con
        flagged = f"""
            SELECT e.rec FROM ev e
            SEMI JOIN new_recs n ON e.rec = n.rec
            SEMI JOIN (SELECT org_h, dayn FROM markers SEMI JOIN found USING (key)) m
                ON e.org_h = m.org_h AND e.ts_us // {MICROS_PER_DAY} = m.dayn
        """
        total = int(self.work.value(f"SELECT count(*) FROM ({flagged})"))
        if not total:
            return
        shown = con.execute(
            f"SELECT r.rec, o.v, CAST(make_timestamp(e.ts_us) AS DATE) FROM "
            f"(SELECT rec FROM ({flagged}) ORDER BY rec LIMIT {self.errors.limit}) r "
            "JOIN ev e ON e.rec = r.rec JOIN dict_org_id o ON o.code = e.org_c ORDER BY r.rec"
        ).fetchall()
        rows = [(int(rec), f'{day.isoformat()} of org "{org}" was imported from daily rollups; '
                 "raw events can't be added to it", None) for rec, org, day in shown]
        self.errors.add_records(f.label, f.path, _ROLLUP_DAY_COLUMN, rows, total)

    def _roll_up(self, all_new: bool, then: Callable[[Callable[[], None]], None],
                 keys_later: list[Callable[[], None]], made: Callable[[Table], None]) -> None:
        """PostgreSQL, table by table (``_roll_up_in_turn``): each of ``_group_new``'s tables
        grouped, turned into its view by number (``_numbered_view``) and ``made`` told it is
        ready. The names are numbered once the per-user rows are grouped, before any write
        starts (the connection is this thread's until then); the new numbers are stored by
        functions handed to ``then``, ahead of the rows that use them, and what adds their
        indexes back appended to ``keys_later`` like the rollups' primary keys."""
        stores: Later = []
        self._group_users(all_new)
        self._number(stores)
        for store in stores:
            then(_keys_kept(store, keys_later))
        self._numbered_view(USERS)
        made(USERS)
        self._group_features()
        self._numbered_view(FEATURES)
        made(FEATURES)
        self._group_daily()
        self._numbered_view(DAILY)
        made(DAILY)

    def _group_new(self, all_new: bool) -> None:
        """DuckDB tables nc_users, nc_features, nc_daily, the new events grouped by the codes
        of org, user and feature and the day number."""
        self._group_users(all_new)
        self._group_features()
        self._group_daily()

    def _group_users(self, all_new: bool) -> None:
        con = self.work.con
        keep = "" if all_new else "SEMI JOIN new_recs n ON x.rec = n.rec"
        con.execute(f"""
            CREATE OR REPLACE VIEW new_events AS
            SELECT x.org_c, x.user_c, x.event_c, x.ts_us, x.n,
                   CAST(x.ts_us // {MICROS_PER_DAY} AS INTEGER) AS dayn
            FROM ev x {keep}
        """)
        self._group("nc_users", "SELECT org_c, dayn, user_c, sum(n)::BIGINT AS events, max(ts_us) AS last_us "
                    "FROM {} GROUP BY ALL", "SELECT org_c, dayn, user_c, n, ts_us FROM new_events",
                    "org_c, dayn, user_c")

    def _group_features(self) -> None:
        self._group("nc_features", "SELECT org_c, dayn, event_c AS feature_c, sum(n)::BIGINT AS events "
                    "FROM {} GROUP BY ALL", "SELECT org_c, dayn, event_c, n FROM new_events", "org_c, dayn, event_c")

    def _group_daily(self) -> None:
        # The daily rows come from the per-user groups (every event has one user), about
        # half as many rows as the events, with the day's last event carried along. At 100k
        # orgs: the daily rows 2.5 s from a third pass over every event, 1.5 s this way.
        self.work.con.execute("""CREATE OR REPLACE TABLE nc_daily AS
            SELECT d.org_c, d.dayn, d.events, d.last_us, d.active_users, f.distinct_features
            FROM (SELECT org_c, dayn, sum(events)::BIGINT AS events, max(last_us) AS last_us,
                         count(*) AS active_users
                  FROM nc_users GROUP BY ALL) d
            JOIN (SELECT org_c, dayn, count(*) AS distinct_features FROM nc_features GROUP BY ALL) f
                USING (org_c, dayn)""")

    def _number(self, later: Later | None = None) -> None:
        """The stored numbers of the file's orgs, users (those with new events: ``nc_users``)
        and features (``storage.usage_numbers``), as ``_org_key`` and ``_feature_key`` (a
        code plus a constant when every name was new, else a join) and DuckDB table
        ``map_users (org_c, user_c, org_key, user_key)``."""
        con = self.work.con
        orgs = number_orgs(self.conn, self.work, "SELECT v AS org_id FROM dict_org_id", later)
        con.execute("""CREATE OR REPLACE TABLE file_pairs AS
            SELECT p.org_c, p.user_c, o.v AS org_id, u.v AS user_id
            FROM (SELECT DISTINCT org_c, user_c FROM nc_users) p
            JOIN dict_org_id o ON o.code = p.org_c JOIN dict_user_id u ON u.code = p.user_c""")
        number_users(self.conn, self.work, "SELECT org_id, user_id FROM file_pairs", later)
        con.execute("""CREATE OR REPLACE TABLE map_users AS
            SELECT p.org_c, p.user_c, n.org_key, n.user_key
            FROM file_pairs p JOIN num_users n USING (org_id, user_id)""")
        con.execute("DROP TABLE file_pairs")
        features = number_features(self.conn, self.work, "SELECT v AS feature FROM dict_event", later)
        self._org_key = self._key_of("org", orgs, "dict_org_id o JOIN num_orgs n ON n.org_id = o.v", "n.org_key")
        self._feature_key = self._key_of("feature", features, "dict_event o JOIN num_features n ON n.feature = o.v",
                                         "n.feature_key")

    def _key_of(self, kind: str, numbered: Numbered, names: str, key: str) -> tuple[str, str]:
        """How a view gets a ``kind``'s number from its code: (expression, join). Every name
        new: numbered in the codes' order (byte order, ``storage.usage_numbers``), so the
        number is the code plus the first number; else through DuckDB table ``map_<kind>``."""
        code = f"r.{kind}_c"
        if numbered.all_new:
            return f"CAST({code} + {numbered.first} AS INTEGER)", ""
        self.work.con.execute(f"CREATE OR REPLACE TABLE map_{kind} AS SELECT o.code, {key} AS k FROM {names}")
        return f"m_{kind}.k", f"JOIN map_{kind} m_{kind} ON m_{kind}.code = {code}"

    def _numbered_view(self, table: Table) -> None:
        """View ne_users, ne_features or ne_daily over its nc_ table: the rows keyed by
        number (``storage.rollup.DUCK_TABLES``), with the day number too."""
        day = "CAST(DATE '1970-01-01' + r.dayn AS DATE) AS day"
        org_key, org_join = self._org_key
        if table is USERS:
            query = (f"SELECT m.org_key, {day}, m.user_key, r.events, r.dayn FROM nc_users r "
                     "JOIN map_users m USING (org_c, user_c)")
            name = "ne_users"
        elif table is FEATURES:
            feature_key, feature_join = self._feature_key
            query = (f"SELECT {org_key} AS org_key, {day}, {feature_key} AS feature_key, r.events, r.dayn "
                     f"FROM nc_features r {org_join} {feature_join}")
            name = "ne_features"
        else:
            query = (f"SELECT {org_key} AS org_key, {day}, r.events, r.last_us, r.active_users, "
                     f"r.distinct_features, r.dayn FROM nc_daily r {org_join}")
            name = "ne_daily"
        self.work.con.execute(f"CREATE OR REPLACE VIEW {name} AS {query}")

    def _group(self, table: str, grouping: str, rows: str, order: str) -> None:
        """DuckDB table ``table`` from ``grouping`` (a GROUP BY with ``{}`` for its input)
        over ``rows``: a hash aggregate when its groups fit in DuckDB's memory, else over the
        rows sorted by ``order`` first. At 100k orgs (10.7M events; 10.7M keys, 5.3M
        org-day-user and 6.6M org-day-feature groups) the hash aggregate takes about half the
        time (1.0 s against 1.8 s for the keys with 2 GB) but runs out of 192 MB, where the
        sort spills to disk within the limit and the aggregate after it holds only a few
        groups at a time. A failed statement changes nothing in DuckDB."""
        con = self.work.con
        try:
            con.execute(f"CREATE OR REPLACE TABLE {table} AS {grouping.format(f'({rows})')}")
        except duckdb.OutOfMemoryException:
            con.execute(f"CREATE OR REPLACE TABLE {table} AS {grouping.format(f'({rows} ORDER BY {order})')}")
