"""Import benchmark: demo data for N orgs, imported into a fresh SQLite database.

Usage:
    .venv/bin/python bench/import_bench.py --orgs 10000 [--days 60] [--seed 7] [--reimport]

Generation runs in a child process so the peak memory printed is the import's own. The
re-import (``--reimport``) measures the all-duplicates path: every event key already known.
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from demo.generator import generate_demo_data  # noqa: E402
from storage import migrate  # noqa: E402
from storage.db import make_engine, make_session_factory  # noqa: E402
from storage.importer import ImportReport, import_paths  # noqa: E402

END_DATE = dt.date(2025, 6, 2)  # fixed, so runs on different days generate the same files


def _generate(out: str, orgs: int, days: int, seed: int) -> None:
    generate_demo_data(out, orgs=orgs, days=days, seed=seed, end_date=END_DATE)


def _line(label: str, report: ImportReport) -> str:
    rate = report.events_read / report.seconds if report.seconds else float("nan")
    rows = report.orgs.rows + report.subscriptions.rows + report.tickets.rows + report.surveys.rows
    return (f"{label}: {report.events_read:,} events ({report.events_new:,} new) + {rows:,} other rows "
            f"in {report.seconds:.1f} s = {rate:,.0f} events/s; {report.days_touched:,} org-days")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orgs", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--reimport", action="store_true", help="import the same files a second time")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="import-bench-") as tmp:
        data = Path(tmp) / "data"
        started = time.perf_counter()
        child = multiprocessing.get_context("spawn").Process(
            target=_generate, args=(str(data), args.orgs, args.days, args.seed))
        child.start()
        child.join()
        if child.exitcode != 0:
            sys.exit(f"demo data generation failed ({child.exitcode})")
        events_mb = (data / "usage_events.csv").stat().st_size / 1e6
        print(f"demo data: {args.orgs:,} orgs x {args.days} days, usage_events.csv {events_mb:,.0f} MB, "
              f"generated in {time.perf_counter() - started:.1f} s")

        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        migrate.upgrade(url)
        engine = make_engine(url)
        factory = make_session_factory(engine)
        first = import_paths([data], factory)
        print(_line("import into a fresh SQLite db", first))
        if args.reimport:
            print(_line("re-import, all duplicates", import_paths([data], factory)))
        engine.dispose()
        db_mb = (Path(tmp) / "bench.db").stat().st_size / 1e6
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"database {db_mb:,.0f} MB; import process peak memory {peak_mb:,.0f} MB; "
              f"{os.cpu_count()} CPU cores")


if __name__ == "__main__":
    main()
