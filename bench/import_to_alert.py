"""Import to alert: from a new events file to the alert it causes, posted to Slack.

Usage:
    .venv/bin/python bench/import_to_alert.py --orgs 10000 [--days 60] [--seed 7] [--runs 3]
    BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test .venv/bin/python bench/import_to_alert.py

Data: the demo data of ``bench/import_bench.py`` (cached under bench/out/), its events split
in two: every day but the last (history), and the last day (the new file). Per run, on a
fresh database (SQLite file, or a PostgreSQL schema when ``BENCH_DATABASE_URL`` is set):

* not timed: the schema (migrations), orgs, subscriptions, tickets, surveys and the history
  imported; a scan as of the end of the day before, its alerts delivered, so the outbox is
  empty;
* timed, what ``saas-tracker import DIR --scan --deliver`` does: the new events file
  imported (``import_paths``), a scan as of the end of the new day with the alerts hook
  (``run_scan`` + ``alerts_hook``: alerts are outbox rows when it commits), and the outbox
  flushed to the local Slack stand-in (tests/slack_stub.py) through the app's own client.

Alerts use ``slack.alert_priority_threshold`` = ``--alert-threshold`` (default 0: every signal
the new day opens is alerted, so each run has alerts to measure; more than
``slack.alert_group_over`` become one grouped message, as in production).

It prints each step's seconds and the alerts queued and posted per run, the medians, and a
last line ``RESULT import_to_alert {json}`` for a combined table of benches.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # the Slack stand-in
sys.path.insert(0, str(ROOT / "bench"))

from import_bench import OUT, Database, dataset  # noqa: E402

OTHER_FILES = ("orgs.csv", "subscriptions.csv", "support_tickets.csv", "survey_responses.csv")


def split_events(data: Path) -> tuple[Path, Path, dt.date]:
    """(history directory, new directory, the new day): each directory with a
    usage_events.csv, the new one holding the events of the file's last UTC day; cached."""
    import duckdb

    con = duckdb.connect()
    source = f"read_csv('{data / 'usage_events.csv'}', all_varchar = true)"
    last = dt.date.fromisoformat(con.execute(f'SELECT max("timestamp") FROM {source}').fetchall()[0][0][:10])
    history, new = data / "split" / "history", data / "split" / f"new-{last}"
    if not (new / "usage_events.csv").exists():
        for target, cond in ((history, f"< '{last}'"), (new, f">= '{last}'")):
            target.mkdir(parents=True, exist_ok=True)
            con.execute(f"""COPY (SELECT * FROM {source} WHERE "timestamp" {cond})
                TO '{target / 'usage_events.csv'}' (HEADER true)""")
    return history, new, last


def one_run(url: str, data: Path, history: Path, new: Path, end: dt.date, threshold: float) -> dict[str, float]:
    from slack_stub import SlackStub

    from bot.client import make_web_client
    from bot.delivery import BlockKitMessages, SlackDelivery
    from domain.config import Config
    from services.alerts import alerts_hook
    from services.outbox import deliver_outbox
    from services.scanning import run_scan
    from storage import migrate
    from storage.db import make_engine, make_session_factory
    from storage.importer import import_paths

    cfg = dataclasses.replace(Config(), slack=dataclasses.replace(Config().slack, alert_priority_threshold=threshold))
    migrate.upgrade(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    day_end = dt.time(23, 59, 59)
    try:
        import_paths([data / name for name in OTHER_FILES] + [history / "usage_events.csv"], factory)
        with SlackStub() as stub:
            slack = SlackDelivery(make_web_client(stub.token, stub.base_url))
            before = dt.datetime.combine(end - dt.timedelta(days=1), day_end, tzinfo=dt.timezone.utc)
            run_scan(factory, cfg, before, after_signals=alerts_hook(BlockKitMessages()))
            deliver_outbox(factory, slack, dt.datetime.now(dt.timezone.utc), cfg)
            posted_before = len(stub.posted)

            started = time.perf_counter()
            report = import_paths([new / "usage_events.csv"], factory)
            imported = time.perf_counter()
            as_of = dt.datetime.combine(end, day_end, tzinfo=dt.timezone.utc)
            scan = run_scan(factory, cfg, as_of, after_signals=alerts_hook(BlockKitMessages()))
            scanned = time.perf_counter()
            delivery = deliver_outbox(factory, slack, dt.datetime.now(dt.timezone.utc), cfg)
            delivered = time.perf_counter()
            posted = len(stub.posted) - posted_before
    finally:
        engine.dispose()
    return {"import_s": imported - started, "scan_s": scanned - imported, "deliver_s": delivered - scanned,
            "total_s": delivered - started, "events": report.events_read, "orgs": scan.orgs_scanned,
            "signals_opened": scan.opened, "alerts_queued": len(delivery.sent) + len(delivery.failed)
            + len(delivery.retrying), "alerts_posted": posted}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orgs", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--alert-threshold", type=float, default=0.0,
                        help="slack.alert_priority_threshold for the runs (default 0: every signal the new "
                             "day opens is alerted, so every run measures an alert)")
    parser.add_argument("--sqlite", action=argparse.BooleanOptionalAction, default=True,
                        help="bench SQLite (default yes)")
    args = parser.parse_args()

    data = dataset(args.orgs, args.days, args.seed)
    history, new, last = split_events(data)
    scratch = OUT / "scratch"
    scratch.mkdir(parents=True, exist_ok=True)
    databases = [Database(None, scratch)] if args.sqlite else []
    if os.environ.get("BENCH_DATABASE_URL"):
        databases.append(Database(os.environ["BENCH_DATABASE_URL"], scratch))
    print(f"{time.strftime('%Y-%m-%d')}: {args.orgs:,} orgs, new events file of {last}; "
          f"{os.cpu_count()} CPU cores", flush=True)
    results = []
    for db in databases:
        runs = []
        for i in range(args.runs):
            url, handle = db.fresh()
            try:
                run = one_run(url, data, history, new, last, args.alert_threshold)
            finally:
                db.drop(handle)
            runs.append(run)
            print(f"  {db.name} run {i + 1}: import {run['import_s']:.2f} s ({run['events']:,} events), scan "
                  f"{run['scan_s']:.2f} s ({run['orgs']:,} orgs, {run['signals_opened']} signals opened), deliver "
                  f"{run['deliver_s']:.2f} s ({run['alerts_posted']} messages posted); total {run['total_s']:.2f} s",
                  flush=True)
        medians = {k: round(statistics.median(r[k] for r in runs), 3)
                   for k in ("import_s", "scan_s", "deliver_s", "total_s")}
        print(f"{db.name}: new file to alert posted in {medians['total_s']:.2f} s (median of {args.runs}): import "
              f"{medians['import_s']:.2f} s, scan {medians['scan_s']:.2f} s, deliver {medians['deliver_s']:.2f} s",
              flush=True)
        results.append({"database": db.name, "orgs": args.orgs, "runs": args.runs, **medians,
                        "total_max_s": round(max(r["total_s"] for r in runs), 3),
                        "events": runs[0]["events"], "signals_opened": runs[0]["signals_opened"],
                        "alerts_posted": runs[0]["alerts_posted"]})
    print("RESULT import_to_alert " + json.dumps({"date": time.strftime("%Y-%m-%d"), "cpus": os.cpu_count(),
                                                 "results": results}), flush=True)


if __name__ == "__main__":
    main()
