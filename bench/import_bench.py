"""Import benchmark: the product's events import against a bare bulk load of the same events.

Usage:
    .venv/bin/python bench/import_bench.py --sizes 10000,30000 [--days 60] [--seed 7] [--pairs 3]
        [--format csv|parquet] [--no-sqlite]
    BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test .venv/bin/python bench/import_bench.py

Data: ``saas-tracker demo-data --orgs N`` (fixed end date, so every run reads the same files),
generated once and cached under bench/out/. For SQLite, and for PostgreSQL when
``BENCH_DATABASE_URL`` is set, the benchmark runs pairs A B A B ...:

* **A, product**: a fresh database (its own SQLite file / PostgreSQL schema) with the
  schema and the orgs imported first (not timed), then ``import_paths`` on usage_events.csv,
  timed: reading, validating, de-duplicating, rolling up and writing, in one transaction.
* **B, floor**: a fresh database with the same schema, then the same events file loaded
  as it is, with no validation, into a table shaped like the events (org_id, user_id,
  event, timestamp, count, event_id; the product's column types, no index): COPY ... FROM
  STDIN (CSV) on PostgreSQL, one ``executemany`` of the csv module's rows in one
  transaction on SQLite, through the product's own engine settings.

Each run is its own process, so the peak RSS printed is that run's own. The ratio printed
is the median of the pairwise ratios A/B: pairs run back to back share the machine's load
at that moment, which a ratio of medians would not.

``--format parquet`` has the product import the same events as ``usage_events.parquet``
(typed columns: a UTC timestamp, an integer count; converted once and cached); the floor
stays the CSV load. The last line is machine-readable: ``RESULT import {json}`` with one
entry per database and size (seconds are medians), for a combined table of benches.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

END_DATE = "2025-06-02"  # fixed, so runs on different days generate the same files
OUT = ROOT / "bench" / "out"


def dataset(orgs: int, days: int, seed: int) -> Path:
    """The cached demo data directory for these options, generated when missing."""
    target = OUT / f"orgs-{orgs}-days-{days}-seed-{seed}"
    if not (target / "usage_events.csv").exists():
        print(f"generating {target} ...", flush=True)
        tmp = target.with_name(target.name + ".partial")
        subprocess.run([str(Path(sys.executable).parent / "saas-tracker"), "demo-data", "--orgs", str(orgs), "--days",
                        str(days), "--seed", str(seed), "--end-date", END_DATE, "--out", str(tmp), "-q"],
                       check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
        tmp.rename(target)
    return target


# -- one run, in a child process -------------------------------------------------------------

def _schema_engine(url: str):
    from storage.db import make_engine
    from storage.models import Base

    engine = make_engine(url)
    Base.metadata.create_all(engine)
    return engine


def events_file(data: Path, fmt: str) -> Path:
    """The events as the product imports them: the CSV, or a typed Parquet copy of it."""
    if fmt == "csv":
        return data / "usage_events.csv"
    target = data / "parquet" / "usage_events.parquet"
    if not target.exists():
        # In a process of its own: DuckDB's memory would otherwise count in the peak RSS
        # of every run forked from this one.
        subprocess.run([sys.executable, __file__, "--to-parquet", str(data)], check=True, cwd=ROOT)
    return target


def to_parquet(data: Path) -> None:
    target = data / "parquet" / "usage_events.parquet"
    if not target.exists():
        import duckdb

        target.parent.mkdir(exist_ok=True)
        tmp = target.with_suffix(".partial")
        duckdb.connect().execute(f"""COPY (SELECT org_id, user_id, event,
            CAST("timestamp" AS TIMESTAMPTZ) AS "timestamp", CAST(nullif("count", '') AS INTEGER) AS "count",
            nullif(event_id, '') AS event_id
            FROM read_csv('{data / "usage_events.csv"}', all_varchar = true)) TO '{tmp}' (FORMAT parquet)""")
        tmp.rename(target)


def run_product(url: str, data: Path, events: Path) -> dict[str, float]:
    from storage.db import make_session_factory
    from storage.importer import import_paths

    engine = _schema_engine(url)
    factory = make_session_factory(engine)
    import_paths([data / "orgs.csv"], factory)
    started = time.perf_counter()
    report = import_paths([events], factory)
    seconds = time.perf_counter() - started
    engine.dispose()
    return {"seconds": seconds, "events": report.events_read, "org_days": report.days_touched}


def _floor_table():
    from sqlalchemy import Column, Integer, MetaData, String, Table

    from storage.models import UTCDateTime

    return Table("bench_raw_events", MetaData(), Column("org_id", String(200)), Column("user_id", String(200)),
                 Column("event", String(200)), Column("timestamp", UTCDateTime()), Column("count", Integer),
                 Column("event_id", String(200)))


def run_floor(url: str, data: Path, events: Path) -> dict[str, float]:
    engine = _schema_engine(url)
    table = _floor_table()
    table.create(engine)
    path = data / "usage_events.csv"
    started = time.perf_counter()
    with engine.begin() as conn:
        raw = conn.connection.driver_connection
        if engine.dialect.name == "sqlite":
            cur = raw.cursor()
            with open(path, newline="", encoding="utf-8") as fh:
                reader = csv.reader(fh)
                next(reader)
                cur.executemany(f"INSERT INTO {table.name} VALUES (?, ?, ?, ?, ?, ?)", reader)
            cur.close()
        else:
            with raw.cursor() as cur, open(path, "rb") as fh:
                with cur.copy(f"COPY {table.name} FROM STDIN (FORMAT csv, HEADER true)") as copy:
                    while block := fh.read(1 << 20):
                        copy.write(block)
    seconds = time.perf_counter() - started
    engine.dispose()
    return {"seconds": seconds}


# -- the parent: pairs, fresh databases, RSS per child ---------------------------------------------

class Database:
    """A fresh SQLite file or PostgreSQL schema per run, removed afterwards."""

    def __init__(self, base_url: str | None, scratch: Path) -> None:
        self.base_url = base_url
        self.scratch = scratch
        self.name = "PostgreSQL" if base_url else "SQLite"

    def fresh(self) -> tuple[str, object]:
        tag = uuid.uuid4().hex[:8]
        if not self.base_url:
            path = self.scratch / f"bench-{tag}.db"
            return f"sqlite:///{path}", path
        from sqlalchemy import create_engine, text

        schema = f"import_bench_{tag}"
        admin = create_engine(self.base_url)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        admin.dispose()
        sep = "&" if "?" in self.base_url else "?"
        return f"{self.base_url}{sep}options=-csearch_path%3D{schema}", schema

    def drop(self, handle: object) -> None:
        if isinstance(handle, Path):
            for suffix in ("", "-wal", "-shm"):
                Path(str(handle) + suffix).unlink(missing_ok=True)
            return
        from sqlalchemy import create_engine, text

        admin = create_engine(self.base_url)  # type: ignore[arg-type]
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{handle}" CASCADE'))
        admin.dispose()


class RunFailed(Exception):
    """A product or floor run exited with an error (its traceback is on stderr)."""


def child(kind: str, db: Database, data: Path, events: Path) -> dict[str, float]:
    """Run one measurement in its own process; adds its peak RSS in MB."""
    url, handle = db.fresh()
    try:
        proc = subprocess.Popen([sys.executable, __file__, "--child", kind, "--url", url, "--data", str(data),
                                 "--events", str(events)], stdout=subprocess.PIPE, cwd=ROOT)
        assert proc.stdout is not None
        out = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            raise RunFailed(f"{kind} run failed ({proc.returncode})")
        result = json.loads(out)
        result["rss_mb"] = usage.ru_maxrss / 1024
        return result
    finally:
        db.drop(handle)


def bench(db: Database, data: Path, events: Path, pairs: int) -> dict[str, object]:
    rows = []
    for i in range(pairs):
        product = child("product", db, data, events)
        floor = child("floor", db, data, events)
        rows.append((product, floor))
        print(f"  {db.name} pair {i + 1}: product {product['seconds']:.2f} s ({product['rss_mb']:.0f} MB), "
              f"floor {floor['seconds']:.2f} s ({floor['rss_mb']:.0f} MB), "
              f"ratio {product['seconds'] / floor['seconds']:.2f}", flush=True)
    ratios = [p["seconds"] / f["seconds"] for p, f in rows]
    ratio = statistics.median(ratios)
    product_s = statistics.median(p["seconds"] for p, _ in rows)
    floor_s = statistics.median(f["seconds"] for _, f in rows)
    rss_product = max(p["rss_mb"] for p, _ in rows)
    rss_floor = max(f["rss_mb"] for _, f in rows)
    print(f"{db.name}: {rows[0][0]['events']:,.0f} events -> {rows[0][0]['org_days']:,.0f} org-days; "
          f"product {product_s:.2f} s, floor {floor_s:.2f} s (medians); ratio {ratio:.2f} "
          f"(median of {pairs} pairs, {min(ratios):.2f}-{max(ratios):.2f}); peak RSS product {rss_product:.0f} MB, "
          f"floor {rss_floor:.0f} MB", flush=True)
    return {"database": db.name, "events": int(rows[0][0]["events"]), "org_days": int(rows[0][0]["org_days"]),
            "product_s": round(product_s, 3), "floor_s": round(floor_s, 3), "ratio": round(ratio, 3),
            "ratio_min": round(min(ratios), 3), "ratio_max": round(max(ratios), 3), "pairs": pairs,
            "rss_product_mb": round(rss_product), "rss_floor_mb": round(rss_floor)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default=None, help="org counts, comma-separated (default: --orgs)")
    parser.add_argument("--orgs", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--format", dest="fmt", choices=["csv", "parquet"], default="csv",
                        help="the events file the product imports (the floor always loads the CSV)")
    parser.add_argument("--sqlite", action=argparse.BooleanOptionalAction, default=True,
                        help="bench SQLite (default yes)")
    parser.add_argument("--child", choices=["product", "floor"], help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--events", help=argparse.SUPPRESS)
    parser.add_argument("--to-parquet", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.to_parquet:
        to_parquet(Path(args.to_parquet))
        return
    if args.child:
        run = run_product if args.child == "product" else run_floor
        print(json.dumps(run(args.url, Path(args.data), Path(args.events))))
        return

    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else [args.orgs]
    scratch = OUT / "scratch"
    scratch.mkdir(parents=True, exist_ok=True)
    databases = [Database(None, scratch)] if args.sqlite else []
    if os.environ.get("BENCH_DATABASE_URL"):
        databases.append(Database(os.environ["BENCH_DATABASE_URL"], scratch))
    results = []
    failed: list[str] = []
    for orgs in sizes:
        data = dataset(orgs, args.days, args.seed)
        events = events_file(data, args.fmt)
        size = events.stat().st_size / 1e6
        print(f"{time.strftime('%Y-%m-%d')}: {orgs:,} orgs x {args.days} days, {events.name} {size:,.0f} MB; "
              f"{os.cpu_count()} CPU cores", flush=True)
        for db in databases:
            try:
                measured = bench(db, data, events, args.pairs)
            except RunFailed as exc:  # the other sizes and databases are still measured
                failed.append(f"{db.name} {orgs:,} orgs: {exc}")
                print(failed[-1], flush=True)
                continue
            results.append({"orgs": orgs, "days": args.days, "format": args.fmt, **measured})
    print("RESULT import " + json.dumps({"date": time.strftime("%Y-%m-%d"), "cpus": os.cpu_count(),
                                         "results": results}), flush=True)
    if failed:
        sys.exit("failed: " + "; ".join(failed))


if __name__ == "__main__":
    main()
