"""How close PostgreSQL's events import can get to its floor: the writing alone, measured.

Usage:
    BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \\
        .venv/bin/python bench/import_write_bound.py [--orgs 100000] [--days 60] [--seed 7] [--pairs 2]

The import bench (``bench/import_bench.py``) sets the product's events import against a bare
bulk load of the same file (the floor: one COPY of the CSV into a table without an index).
The import also writes more than the floor does: one event key per event, packed in blocks (what makes a
re-import exact), the numbers of the orgs, users and features (``storage.usage_numbers``)
and the per-org-day, per-user and per-feature rollup rows the scan reads, keyed by those
numbers, each table with its primary key. This benchmark measures what that writing alone costs the
server, with everything before it (reading, validating, keying, de-duplicating and rolling
up) taken away:

1. The product imports the events once into a fresh schema (timed, for reference).
2. The seven tables it wrote (``WRITTEN_TABLES``) are copied out in PostgreSQL's binary
   COPY format into memory, in the order they are stored, which is the order the import
   wrote them in.
3. Then pairs A B A B ...: **A, floor**: the bare bulk load of ``bench/import_bench.py``;
   **B, write bound**: a fresh schema, and in one transaction the seven tables loaded from
   memory by binary COPY, each empty table's primary key (and unique constraint) dropped
   before and added back after (``storage.staging.loading_into``), as the import does it.

B is a lower bound for the import as it is designed: no import that writes these rows can
take less. Its ratio to A, measured in the same run, says how much of the 2x target is left
once the rows are written. The last line is machine-readable: ``RESULT write_bound {json}``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from import_bench import Database, _schema_engine, dataset, run_floor, run_product  # noqa: E402

# In the order the import writes them (the keys first, then the numbers, then the rollups:
# storage.event_import).
WRITTEN_TABLES = ("event_key_blocks", "usage_orgs", "usage_users", "usage_features", "usage_daily_users",
                  "usage_daily_features", "usage_daily")
_BLOCK = 1 << 20


def copied_out(url: str) -> dict[str, tuple[bytes, int]]:
    """Each written table as binary COPY data, with its row count."""
    engine = _schema_engine(url)
    out: dict[str, tuple[bytes, int]] = {}
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        for name in WRITTEN_TABLES:
            data = bytearray()
            with raw.cursor() as cur:
                with cur.copy(f'COPY "{name}" TO STDOUT (FORMAT binary)') as copy:
                    for block in copy:
                        data += block
                cur.execute(f'SELECT count(*) FROM "{name}"')
                rows = cur.fetchone()[0]
            out[name] = (bytes(data), rows)
    engine.dispose()
    return out


def _copy_in(cur: Any, table: str, data: bytes) -> None:
    """Binary COPY data copied out before (``copied_out``) into ``table``, a block at a time."""
    with cur.copy(f"COPY {table} FROM STDIN (FORMAT binary)") as copy:
        for at in range(0, len(data), _BLOCK):
            copy.write(data[at:at + _BLOCK])


def run_write_bound(url: str, tables: dict[str, tuple[bytes, int]]) -> dict[str, float]:
    """Load the copied-out tables into a fresh schema the way the import writes them."""
    from storage.models import Base
    from storage.staging import loading_into

    engine = _schema_engine(url)
    per_table: dict[str, float] = {}
    started = time.perf_counter()
    with engine.begin() as conn:
        raw = conn.connection.driver_connection
        for name in WRITTEN_TABLES:
            data, _ = tables[name]
            t0 = time.perf_counter()
            with loading_into(conn, Base.metadata.tables[name]):
                with raw.cursor() as cur:
                    _copy_in(cur, f'"{name}"', data)
            per_table[name] = round(time.perf_counter() - t0, 3)
    seconds = time.perf_counter() - started
    engine.dispose()
    return {"seconds": seconds, **per_table}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orgs", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--pairs", type=int, default=2)
    args = parser.parse_args()
    base = os.environ.get("BENCH_DATABASE_URL")
    if not base or not base.startswith("postgresql"):
        sys.exit("set BENCH_DATABASE_URL to a PostgreSQL URL: this bound is about PostgreSQL's import")
    db = Database(base, ROOT / "bench" / "out" / "scratch")
    data = dataset(args.orgs, args.days, args.seed)
    events = data / "usage_events.csv"
    print(f"{time.strftime('%Y-%m-%d')}: {args.orgs:,} orgs x {args.days} days; {os.cpu_count()} CPU cores",
          flush=True)

    url, handle = db.fresh()
    try:
        product = run_product(url, data, events)
        tables = copied_out(url)
    finally:
        db.drop(handle)
    rows = {name: n for name, (_, n) in tables.items()}
    print(f"product import {product['seconds']:.2f} s; rows written: "
          + ", ".join(f"{name} {n:,}" for name, n in rows.items()), flush=True)

    pairs = []
    for i in range(args.pairs):
        url, handle = db.fresh()
        try:
            floor = run_floor(url, data, events)
        finally:
            db.drop(handle)
        url, handle = db.fresh()
        try:
            bound = run_write_bound(url, tables)
        finally:
            db.drop(handle)
        pairs.append((floor, bound))
        detail = ", ".join(f"{name} {bound[name]:.2f}" for name in WRITTEN_TABLES)
        print(f"  pair {i + 1}: floor {floor['seconds']:.2f} s, write bound {bound['seconds']:.2f} s ({detail}), "
              f"ratio {bound['seconds'] / floor['seconds']:.2f}", flush=True)
    ratios = [b["seconds"] / f["seconds"] for f, b in pairs]
    floor_s = statistics.median(f["seconds"] for f, _ in pairs)
    bound_s = statistics.median(b["seconds"] for _, b in pairs)
    print(f"floor {floor_s:.2f} s, write bound {bound_s:.2f} s (medians); write bound / floor "
          f"{statistics.median(ratios):.2f} (pairs {', '.join(f'{r:.2f}' for r in ratios)}); "
          f"product / floor {product['seconds'] / floor_s:.2f}", flush=True)
    print("RESULT write_bound " + json.dumps({
        "date": time.strftime("%Y-%m-%d"), "cpus": os.cpu_count(), "orgs": args.orgs, "rows": rows,
        "product_s": round(product["seconds"], 3), "floor_s": round(floor_s, 3), "bound_s": round(bound_s, 3),
        "ratio": round(statistics.median(ratios), 3), "ratios": [round(r, 3) for r in ratios],
        "per_table_s": {name: round(statistics.median(b[name] for _, b in pairs), 3) for name in WRITTEN_TABLES},
    }), flush=True)


if __name__ == "__main__":
    main()
