"""Scan and read benchmark: demo data for N orgs, imported into a fresh database, then timed.

Usage:
    .venv/bin/python bench/scan_bench.py [--orgs 10000] [--days 60] [--seed 7] [--repeat 3]
        [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/test] [--profile DIR]

Stages, each the best of ``--repeat`` runs (every run is printed too):

* ``scan, first``: ``run_scan`` on a database with no scan results (each repeat starts by
  deleting the previous repeat's snapshots, signals and scan runs);
* ``scan, next day``: the scan a day later (previous snapshots exist, signals get updated);
* ``list_signals top 10 (cold)``: what ``/signals`` runs right after a scan, with nothing
  cached; ``(warm)``: the same call again before the next scan;
* ``org_detail`` for the top org, ``cell_orgs`` for the Revenue at risk cell and
  ``build_digest`` (the weekly digest's numbers), all cold (caches cleared before each run).

Demo data is generated once per (orgs, days, seed, demo_data.py source) and cached under
bench/out/ (gitignored), in a child process so the peak memory printed is this process's
own. SQLite: a fresh file in a temporary directory. PostgreSQL: a schema ``bench_<pid>``
created for the run and dropped at the end (the URL's ``search_path`` is set to it);
``ANALYZE`` runs after the import there, as autovacuum would shortly after a bulk load.
``--profile DIR`` writes a cProfile file per stage (one run each) for snakeviz/pstats.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import hashlib
import multiprocessing
import os
import platform
import resource
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, delete, text  # noqa: E402
from sqlalchemy.orm import Session, sessionmaker  # noqa: E402

from services import org_details, segmentation, signal_list  # noqa: E402
from domain.config import Config  # noqa: E402
from demo.generator import generate_demo_data  # noqa: E402
from services.digest import build_digest  # noqa: E402
from services.scanning import run_scan  # noqa: E402
from scoring.segments import CELL_REVENUE_AT_RISK  # noqa: E402
from storage import migrate  # noqa: E402
from storage.db import find_application, make_engine, make_session_factory  # noqa: E402
from storage.importer import import_paths  # noqa: E402
from storage.models import HealthSnapshot, Outbox, ScanRun, Signal  # noqa: E402

OUT = ROOT / "bench" / "out"
END_DATE = dt.date(2025, 6, 2)  # fixed, as in import_bench.py: every run generates the same files
FIRST_SCAN = dt.datetime(END_DATE.year, END_DATE.month, END_DATE.day, 6, 0, tzinfo=dt.timezone.utc)
NEXT_SCAN = FIRST_SCAN + dt.timedelta(days=1)
READ_AT = NEXT_SCAN + dt.timedelta(hours=1)  # a /signals an hour after the second scan


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _generate(out: str, orgs: int, days: int, seed: int) -> None:
    generate_demo_data(out, orgs=orgs, days=days, seed=seed, end_date=END_DATE)


def demo_data_dir(orgs: int, days: int, seed: int) -> Path:
    """The cached demo CSVs for these arguments, generated (in a child process) when missing.

    The key includes a hash of demo_data.py, so a change to the generator never reuses
    stale files.
    """
    source = (ROOT / "demo" / "generator.py").read_bytes()
    key = f"demo-{orgs}o-{days}d-s{seed}-{hashlib.sha256(source).hexdigest()[:10]}"
    data = OUT / key
    if (data / ".complete").exists():
        print(f"demo data: cached in {data.relative_to(ROOT)}")
        return data
    shutil.rmtree(data, ignore_errors=True)
    started = time.perf_counter()
    child = multiprocessing.get_context("spawn").Process(target=_generate, args=(str(data), orgs, days, seed))
    child.start()
    child.join()
    if child.exitcode != 0:
        sys.exit(f"demo data generation failed ({child.exitcode})")
    (data / ".complete").touch()
    print(f"demo data: generated in {time.perf_counter() - started:.1f} s into {data.relative_to(ROOT)}")
    return data


@contextmanager
def bench_database(url: str | None) -> Iterator[str]:
    """A fresh, empty database URL: a temporary SQLite file, or a PostgreSQL schema of our own."""
    if url is None or url.startswith("sqlite"):
        with tempfile.TemporaryDirectory(prefix="scan-bench-") as tmp:
            yield f"sqlite:///{Path(tmp) / 'bench.db'}"
        return
    schema = f"bench_{os.getpid()}"
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        sep = "&" if "?" in url else "?"
        yield f"{url}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def reset_scan_results(factory: sessionmaker[Session]) -> None:
    """Back to "imported, never scanned", so every repeat of the first scan is a first scan."""
    with factory() as session, session.begin():
        for model in (Outbox, Signal, HealthSnapshot, ScanRun):
            session.execute(delete(model))


def clear_read_caches() -> None:
    """Forget whatever the read side keeps between calls (a new scan does the same)."""
    clear = getattr(segmentation, "clear_segmentation_cache", None)
    if clear is not None:
        clear()


class Bench:
    def __init__(self, repeat: int, profile_dir: Path | None) -> None:
        self.repeat = repeat
        self.profile_dir = profile_dir
        self.rows: list[tuple[str, list[float], float]] = []

    def time(self, label: str, fn: Callable[[], Any], before: Callable[[], None] | None = None) -> Any:
        """Run ``fn`` ``repeat`` times (``before`` untimed ahead of each run); record every time."""
        times, result = [], None
        for i in range(self.repeat):
            if before is not None:
                before()
            profiler = cProfile.Profile() if self.profile_dir and i == 0 else None
            started = time.perf_counter()
            if profiler:
                profiler.enable()
            result = fn()
            if profiler:
                profiler.disable()
            times.append(time.perf_counter() - started)
            if profiler:
                slug = "".join(ch if ch.isalnum() else "_" for ch in label).strip("_")
                profiler.dump_stats(self.profile_dir / f"{slug}.prof")
        self.rows.append((label, times, _peak_mb()))
        return result

    def add(self, label: str, seconds: float) -> None:
        self.rows.append((label, [seconds], _peak_mb()))


def versions(url: str, factory: sessionmaker[Session]) -> str:
    with factory() as session:
        if url.startswith("sqlite"):
            db = f"SQLite {sqlite3.sqlite_version}"
        else:
            db = session.scalar(text("select version()")).split(" on ")[0]
    return f"Python {platform.python_version()}, {db}, {os.cpu_count()} CPUs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orgs", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3, help="runs per stage; the best is reported")
    parser.add_argument("--database-url", help="PostgreSQL URL to benchmark on (default: a fresh SQLite file)")
    parser.add_argument("--profile", type=Path, metavar="DIR", help="write a cProfile file per stage here")
    args = parser.parse_args()
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)

    data = demo_data_dir(args.orgs, args.days, args.seed)
    cfg = Config()
    bench = Bench(args.repeat, args.profile)
    with bench_database(args.database_url) as url:
        migrate.upgrade(url)
        engine = make_engine(url)
        factory = make_session_factory(engine)
        report = import_paths([data], factory)
        bench.add("import (once)", report.seconds)
        if not url.startswith("sqlite"):
            with engine.begin() as conn:
                conn.execute(text("ANALYZE"))
        with factory() as session:
            app = find_application(session, cfg.application)
            assert app is not None, "the demo data imported no application"
            app_id = app.id

        firsts: list[float] = []
        nexts: list[float] = []
        for i in range(args.repeat):
            reset_scan_results(factory)
            clear_read_caches()
            for label, when, sink in (("first", FIRST_SCAN, firsts), ("next", NEXT_SCAN, nexts)):
                profiler = cProfile.Profile() if args.profile and i == 0 else None
                started = time.perf_counter()
                if profiler:
                    profiler.enable()
                result = run_scan(factory, cfg, as_of=when)
                if profiler:
                    profiler.disable()
                    profiler.dump_stats(args.profile / f"scan_{label}.prof")
                sink.append(time.perf_counter() - started)
        bench.rows.append(("scan, first", firsts, _peak_mb()))
        bench.rows.append(("scan, next day", nexts, _peak_mb()))
        scanned = result.orgs_scanned

        flt = signal_list.SignalFilter(top=10)

        def signals() -> signal_list.SignalList:
            with factory() as session:
                return signal_list.list_signals(session, app_id, READ_AT, flt, cfg)

        listing = bench.time("list_signals top 10 (cold)", signals, before=clear_read_caches)
        bench.time("list_signals top 10 (warm)", signals)
        top_org = listing.items[0].org_id

        def detail() -> Any:
            with factory() as session:
                return org_details.org_detail(session, app_id, top_org, READ_AT, cfg)

        def cell() -> Any:
            with factory() as session:
                return segmentation.cell_orgs(session, app_id, CELL_REVENUE_AT_RISK, READ_AT, cfg)

        def digest() -> Any:
            with factory() as session:
                return build_digest(session, app_id, READ_AT, cfg)

        bench.time(f"org_detail ({top_org}, cold)", detail, before=clear_read_caches)
        view, members = bench.time("cell_orgs revenue_at_risk (cold)", cell, before=clear_read_caches)
        built = bench.time("build_digest (cold)", digest, before=clear_read_caches)
        about = versions(url, factory)
        engine.dispose()

    db = "SQLite" if url.startswith("sqlite") else "PostgreSQL"
    print(f"\n{db}: {scanned:,} orgs, {report.events_read:,} events ({report.days_touched:,} org-days); "
          f"{listing.total:,} orgs with active signals, {len(members):,} orgs in {view.label}, "
          f"digest lists {len(built.items)}; {about}")
    print(f"{'stage':<36} {'orgs':>8} {'events':>11} {'best s':>8}  {'runs s':<24} {'peak RSS MB':>11}")
    for label, times, peak in bench.rows:
        runs = " ".join(f"{t:.3f}" for t in times)
        print(f"{label:<36} {scanned:>8,} {report.events_read:>11,} {min(times):>8.3f}  {runs:<24} {peak:>11,.0f}")


if __name__ == "__main__":
    main()
