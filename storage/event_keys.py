"""Event fingerprints: which events were already rolled up, so a re-import adds nothing.

Raw events are not kept (docs/inputs.md), so de-duplication needs a durable memory of what was
counted: one 63-bit key per event, stored packed in blocks (``event_key_blocks``,
``KeyStore``), from the org and its ``event_id``
when the export has one, else from the whole normalized row (org, user, event, UTC
timestamp to the microsecond, count). Event ids are scoped by org: two tenants numbering
their events 1, 2, 3 are not duplicates of each other.

The key is computed vectorized over a chunk with numpy: FNV-1a (64-bit) over each text
field's Unicode code points, each field then mixed in with MurmurHash3's 64-bit finalizer,
masked to 63 bits so it fits a signed BIGINT on both databases. The definition is fixed
here and pinned by a test against a plain-Python reference, because changing it would make
every previously imported event look new. Two different events share a key with
probability about n²/2⁶⁴ (one in 200,000 at ten million events); the cost of a collision
is one event not counted.

The same keys remember which org-days came from daily rollup files (``day_marker_keys``,
tag 3: the org and the UTC day): raw events for such a day would be added on top of numbers
that may already count them, so the events import refuses them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
from sqlalchemy import Table, delete, insert, select
from sqlalchemy.engine import Connection

from storage.models import EventKeyBlock
from storage.reader import VECTOR_ROWS, WorkDB
from storage.staging import check_dialect

FNV_OFFSET = np.uint64(0xCBF29CE484222325)
FNV_PRIME = np.uint64(0x100000001B3)
KEY_MASK = np.uint64((1 << 63) - 1)
# Field-order multiplier and the tags that keep "id" keys and "row" keys apart.
MIX_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)
TAG_EVENT_ID = np.uint64(1)
TAG_WHOLE_ROW = np.uint64(2)
TAG_ROLLUP_DAY = np.uint64(3)
MICROS_PER_DAY = 86_400_000_000
KEY_BATCH = 200_000  # keys fetched from DuckDB at a time
KEY_BLOCK = 65_536  # keys per stored block: 512 KiB
BLOCKS_PER_READ = 16  # blocks read from the database at a time when looking keys up
PACKED_KEY = np.dtype(">i8")


def fmix64(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's finalizer: every input bit affects every output bit."""
    h = h ^ (h >> np.uint64(33))
    h = h * np.uint64(0xFF51AFD7ED558CCD)
    h = h ^ (h >> np.uint64(33))
    h = h * np.uint64(0xC4CEB9FE1A85EC53)
    return h ^ (h >> np.uint64(33))


def _fnv1a(values: np.ndarray) -> np.ndarray:
    """FNV-1a over code points, one loop step per character position (not per value)."""
    text = values.astype("U")
    n = len(text)
    width = text.dtype.itemsize // 4
    h = np.full(n, FNV_OFFSET, dtype=np.uint64)
    if n == 0 or width == 0:
        return h
    code_points = text.view(np.uint32).reshape(n, width).T.astype(np.uint64)
    lengths = np.char.str_len(text)
    # Positions every value reaches (all of them when the values have one length, as
    # exported ids often do) need no per-value test.
    common = int(lengths.min())
    for pos in range(width):
        if pos < common:
            h = (h ^ code_points[pos]) * FNV_PRIME
        else:
            h = np.where(pos < lengths, (h ^ code_points[pos]) * FNV_PRIME, h)
    return h


def text_hash(values: pd.Series | np.ndarray, repeated: bool = True) -> np.ndarray:
    """64-bit hash of each string; repeated values (users, features) are hashed once.
    ``repeated=False`` skips looking for repeats, for values mostly unique (event ids)."""
    arr = np.asarray(values, dtype=object)
    if not repeated:
        return fmix64(_fnv1a(arr))
    codes, uniques = pd.factorize(arr)
    if len(uniques) * 2 < len(arr):
        return fmix64(_fnv1a(np.asarray(uniques, dtype=object)))[codes]
    return fmix64(_fnv1a(arr))


def combine(tag: np.uint64, fields: list[np.ndarray]) -> np.ndarray:
    n = len(fields[0])
    h = np.full(n, tag, dtype=np.uint64)
    for f in fields:
        h = fmix64((h * MIX_MULTIPLIER) ^ f.astype(np.uint64, copy=False))
    return h


def event_keys(
    org_id: pd.Series,
    user_id: pd.Series,
    event: pd.Series,
    timestamp_us: np.ndarray,
    count: np.ndarray,
    event_id: pd.Series,
) -> np.ndarray:
    """One positive int64 key per event row (see the module docstring for the definition)."""
    return keys_from_hashes(text_hash(org_id), text_hash(user_id), text_hash(event), text_hash(event_id),
                            (event_id != "").to_numpy(), timestamp_us, count)


def keys_from_hashes(org_h: np.ndarray, user_h: np.ndarray, event_h: np.ndarray, event_id_h: np.ndarray,
                     has_id: np.ndarray, timestamp_us: np.ndarray, count: np.ndarray) -> np.ndarray:
    """``event_keys`` from the ``text_hash`` of each text field (uint64 or int64 arrays), so a
    caller can hash each distinct org, user and event name once for a whole file."""
    org_h = _u64(org_h)
    has_id = np.asarray(has_id, dtype=bool)
    fields = {"org": org_h, "id": _u64(event_id_h), "user": _u64(user_h), "event": _u64(event_h),
              "ts": timestamp_us.astype(np.int64).view(np.uint64), "count": count.astype(np.int64).view(np.uint64)}

    def by_id(rows: Any) -> np.ndarray:
        return combine(TAG_EVENT_ID, [fields["org"][rows], fields["id"][rows]])

    def by_row(rows: Any) -> np.ndarray:
        return combine(TAG_WHOLE_ROW, [fields[f][rows] for f in ("org", "user", "event", "ts", "count")])

    # Each row's key one way only: exports mostly have ids on every row or on none, and a
    # whole-row key costs five mixing rounds where an id key costs two.
    if has_id.all():
        keys = by_id(slice(None))
    elif not has_id.any():
        keys = by_row(slice(None))
    else:
        keys = np.empty(len(org_h), dtype=np.uint64)
        keys[has_id] = by_id(has_id)
        keys[~has_id] = by_row(~has_id)
    return (keys & KEY_MASK).astype(np.int64)


def _u64(values: np.ndarray) -> np.ndarray:
    """The same 64 bits as unsigned (a hash handed back by DuckDB as BIGINT)."""
    return values.view(np.uint64) if values.dtype == np.int64 else values.astype(np.uint64, copy=False)


def day_marker_keys(org_hash: np.ndarray, day_number: np.ndarray) -> np.ndarray:
    """One key per (org, UTC day) imported from daily rollups: ``org_hash`` is ``text_hash``
    of the org id, ``day_number`` days since 1970-01-01."""
    keys = combine(TAG_ROLLUP_DAY, [org_hash.astype(np.uint64, copy=False),
                                    day_number.astype(np.int64).view(np.uint64)]) & KEY_MASK
    return keys.astype(np.int64)


def pack_keys(keys: np.ndarray) -> bytes:
    """One ``event_key_blocks.keys`` value: the keys in ascending order, 8 bytes each,
    big-endian (the order of the bytes is the order of the numbers)."""
    return np.sort(np.asarray(keys, dtype=np.int64)).astype(PACKED_KEY).tobytes()


def unpack_keys(packed: bytes) -> np.ndarray:
    return np.frombuffer(packed, dtype=PACKED_KEY).astype(np.int64)


class KeyStore:
    """Which keys are stored already, and storing new ones.

    Keys come from DuckDB queries (``storage.reader.WorkDB``). They are stored in blocks of
    up to ``KEY_BLOCK`` (``storage.models.EventKeyBlock``) and looked up all at once: while
    any are stored, every block is read into a DuckDB table, block by block, and the keys
    asked about are joined against it there, so the only rows either database writes are a
    few hundred blocks per ten million events. Reading them back costs 8 bytes per key ever
    imported (86 MB at 10.7M), about what a join against one row per key scanned anyway.

    The first lookup locks the keys against other imports until the import's transaction
    ends (PostgreSQL: SHARE ROW EXCLUSIVE, which readers pass; SQLite: its writer lock): two
    imports of the same events at once would otherwise both find them new.
    """

    def __init__(self, conn: Connection, work: WorkDB) -> None:
        self.conn = conn
        self.work = work
        self.dialect = check_dialect(conn)
        self.table: Table = EventKeyBlock.__table__  # type: ignore[assignment]

    def reader(self) -> duckdb.DuckDBPyConnection:
        """A DuckDB cursor of its own for ``store`` to read its keys on, made by the thread
        that owns the work database, for when ``store`` runs on another
        (``storage.side_thread.alongside``)."""
        return self.work.con.cursor()

    def _arrays(self, query: str, reader: duckdb.DuckDBPyConnection | None = None) -> Iterator[np.ndarray]:
        """The keys of a DuckDB query, about ``KEY_BATCH`` at a time, as int64 arrays (fetched
        as numpy columns: a tuple per row cost a third of storing the keys)."""
        with reader or self.work.con.cursor() as cursor:
            cursor.execute(f"SELECT key FROM ({query})")
            while len(frame := cursor.fetch_df_chunk(max(1, KEY_BATCH // VECTOR_ROWS))):
                yield frame["key"].to_numpy(dtype=np.int64)

    def _lock(self) -> None:
        """Hold the stored keys against other imports until this one ends (class docstring)."""
        if self.dialect == "postgresql":
            self.conn.exec_driver_sql(f'LOCK TABLE "{self.table.name}" IN SHARE ROW EXCLUSIVE MODE')
        else:
            # A write that changes nothing: SQLite's one writer lock, taken before the keys
            # are read, so no other import can commit keys between the reading and the writing.
            self.conn.exec_driver_sql(f'UPDATE "{self.table.name}" SET key_count = key_count WHERE 0')

    def holds_any(self) -> bool:
        """Whether any key is stored (events or rollup days), the keys locked first (class
        docstring): with none, nothing in a file can be old and its lookups can be skipped."""
        self._lock()
        return self._any_stored()

    def _any_stored(self) -> bool:
        return self.conn.execute(select(self.table.c.block_id).limit(1)).first() is not None

    def _load_stored(self, table: str) -> None:
        """DuckDB table ``table`` (key BIGINT): every key stored, read a few blocks at a time
        (DuckDB spills past its memory limit; Python holds a few blocks)."""
        con = self.work.con
        con.execute(f"CREATE OR REPLACE TABLE {table} (key BIGINT)")
        query = select(self.table.c["keys"]).execution_options(stream_results=True, yield_per=BLOCKS_PER_READ)
        for part in self.conn.execute(query).partitions(BLOCKS_PER_READ):
            con.register("stored_batch", pa.table({"key": np.concatenate([unpack_keys(r[0]) for r in part])}))
            con.execute(f"INSERT INTO {table} SELECT key FROM stored_batch")
            con.unregister("stored_batch")

    def stored_into(self, query: str, table: str) -> int:
        """Create DuckDB table ``table`` (key BIGINT) with the keys of ``query`` that are
        stored already; returns how many."""
        con = self.work.con
        self._lock()
        con.execute(f"CREATE OR REPLACE TABLE {table} (key BIGINT)")
        if not self._any_stored():
            return 0
        self._load_stored("stored_keys")
        con.execute(f"INSERT INTO {table} SELECT key FROM ({query}) SEMI JOIN stored_keys USING (key)")
        con.execute("DROP TABLE stored_keys")
        return self.work.count(table)

    def store(self, query: str, reader: duckdb.DuckDBPyConnection | None = None) -> int:
        """Add the keys of a DuckDB ``query`` to the stored ones, in blocks of ``KEY_BLOCK``;
        the caller vouches that none is stored already and none repeats (``stored_into``).
        ``reader``: the cursor to read them on (``KeyStore.reader``), when this runs on a
        thread of its own. Returns how many keys were stored."""
        return self.store_arrays(self._arrays(query, reader))

    def store_arrays(self, arrays: Iterable[np.ndarray]) -> int:
        """``store`` for keys handed over as int64 arrays, as they are made: the events
        import stores a file's keys while it makes them when none is stored yet
        (``storage.event_import``). Returns how many keys were stored."""
        self._lock()
        pending: list[np.ndarray] = []
        held = stored = 0
        for keys in arrays:
            pending.append(keys)
            held += len(keys)
            while held >= KEY_BLOCK:
                merged = np.concatenate(pending)
                self._insert_block(merged[:KEY_BLOCK])
                pending, held = [merged[KEY_BLOCK:]], len(merged) - KEY_BLOCK
                stored += KEY_BLOCK
        if held:
            self._insert_block(np.concatenate(pending))
            stored += held
        return stored

    def forget_all(self) -> None:
        """Remove every stored key. Only for an import that found none stored (the keys
        locked since: every block is its own) and stored its keys as it made them, before
        knowing that some repeat: it stores its unique keys again instead."""
        self._lock()
        self.conn.execute(delete(self.table))

    def _insert_block(self, keys: np.ndarray) -> None:
        self.conn.execute(insert(self.table), [{"key_count": len(keys), "keys": pack_keys(keys)}])


def utf8_text_hash(values: Any) -> np.ndarray:
    """``text_hash(values, repeated=False)`` of a pyarrow string array, read from its UTF-8
    buffer without a Python object per value: for ASCII text the code points FNV-1a steps
    over are the bytes themselves. Text with other characters (or nulls) takes the way
    through Python strings, so the key of a value never depends on how it was handed over."""
    import pyarrow as pa

    arr = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    if pa.types.is_string_view(arr.type):
        arr = arr.cast(pa.string())
    n = len(arr)
    if n == 0:
        return np.full(0, FNV_OFFSET, dtype=np.uint64)
    offset_type = np.int64 if pa.types.is_large_string(arr.type) else np.int32
    _, offset_buffer, data_buffer = arr.buffers()
    offsets = np.frombuffer(offset_buffer, dtype=offset_type)[arr.offset:arr.offset + n + 1].astype(np.int64)
    data = (np.frombuffer(data_buffer, dtype=np.uint8) if data_buffer is not None
            else np.zeros(0, dtype=np.uint8))[offsets[0]:offsets[-1]]
    if arr.null_count or (data >= 128).any():
        return text_hash(np.asarray(arr.to_pylist(), dtype=object), repeated=False)
    starts = offsets[:-1] - offsets[0]
    lengths = np.diff(offsets)
    h = np.full(n, FNV_OFFSET, dtype=np.uint64)
    common, width = int(lengths.min()), int(lengths.max())
    if common == width:  # one length (exported ids often have one): the bytes are a matrix
        by_position = data.reshape(n, width).T
        for pos in range(width):
            h = (h ^ by_position[pos]) * FNV_PRIME
        return fmix64(h)
    for pos in range(width):
        if pos < common:
            h = (h ^ data[starts + pos].astype(np.uint64)) * FNV_PRIME
        else:
            reach = pos < lengths
            byte = data[np.where(reach, starts + pos, 0)].astype(np.uint64)
            h = np.where(reach, (h ^ byte) * FNV_PRIME, h)
    return fmix64(h)
