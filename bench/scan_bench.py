"""Scan and Slack benchmark for one database and one size: the scan against its floor, and the
Slack answers through the real app. ``bench/run_bench.py`` (``make bench``) runs it for every
size and database and prints one table.

Usage:
    .venv/bin/python bench/scan_bench.py [--orgs 10000] [--pairs 3] [--slack 200] [--cold 5]
        [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/test] [--json] [--profile DIR]

Data: the demo generator (``--days 60``, fixed end date), CSVs cached under bench/out/, and the
imported database cached too (SQLite: a file copied for each run; PostgreSQL: a schema
``bench_<orgs>o_<revision>`` kept between runs), so only the first run of a size imports.
Every run starts from "imported, never scanned".

* **scan, first / next day**: ``run_scan`` as of the data's last day, then the day after
  (previous snapshots exist, signals get updated, the snapshot of the day before is read).
* **floor**: ``bench/scan_floor.py``, the one SQL aggregate query yielding the per-org
  numbers the scan stores, timed right after each scan (pairs A B A B …); the ratio is the
  median of the pairs' ratios. The floor's values are checked against the snapshots the scan
  stored for 1,000 orgs (the run stops on a difference).
* **Slack**: the real Bolt app behind its HTTP server, the local Slack stand-in
  (tests/slack_stub.py), signed requests; the time from sending a request to its answer at
  the response_url. ``/signals top 25``, ``/org <id>`` and a Dismiss click on a listed org,
  ``--slack`` of each (warm), and ``--cold`` of each as the first request after a scan.

Peak RSS is this process's own (one process per database and size): its scans and Slack's answers;
the floor queries run in child processes of their own (``floor_apart``).
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import hashlib
import json
import multiprocessing
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "bench")]

from sqlalchemy import create_engine, delete, text  # noqa: E402
from sqlalchemy.orm import Session, sessionmaker  # noqa: E402

from demo.generator import generate_demo_data  # noqa: E402
from domain.config import Config  # noqa: E402
from scan_floor import check_floor, run_floor  # noqa: E402
from services.scanning import run_scan  # noqa: E402
from storage import migrate  # noqa: E402
from storage.db import find_application, make_engine, make_session_factory  # noqa: E402
from storage.models import AuditLog, HealthSnapshot, OrgSegment, Outbox, ScanRun, Signal  # noqa: E402

OUT = ROOT / "bench" / "out"
END_DATE = dt.date(2025, 6, 2)  # fixed, as in import_bench.py: every run generates the same files
FIRST_SCAN = dt.datetime(END_DATE.year, END_DATE.month, END_DATE.day, 6, 0, tzinfo=dt.timezone.utc)
NEXT_SCAN = FIRST_SCAN + dt.timedelta(days=1)
READ_AT = NEXT_SCAN + dt.timedelta(hours=1)  # Slack an hour after the day's scan


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _generate(out: str, orgs: int, days: int, seed: int) -> None:
    generate_demo_data(out, orgs=orgs, days=days, seed=seed, end_date=END_DATE)


def demo_data_dir(orgs: int, days: int = 60, seed: int = 7) -> Path:
    """The cached demo CSVs for these arguments, generated (in a child process) when missing.
    The key includes a hash of the generator, so a change to it never reuses stale files."""
    source = (ROOT / "demo" / "generator.py").read_bytes()
    key = f"demo-{orgs}o-{days}d-s{seed}-{hashlib.sha256(source).hexdigest()[:10]}"
    data = OUT / key
    if (data / ".complete").exists():
        return data
    shutil.rmtree(data, ignore_errors=True)
    child = multiprocessing.get_context("spawn").Process(target=_generate, args=(str(data), orgs, days, seed))
    child.start()
    child.join()
    if child.exitcode != 0:
        sys.exit(f"demo data generation failed ({child.exitcode})")
    (data / ".complete").touch()
    return data


def _head() -> str:
    """The schema's version: a hash of the migration files (a changed migration never reuses
    a dataset imported before it)."""
    digest = hashlib.sha256()
    for path in sorted((migrate.MIGRATIONS_DIR / "versions").glob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


def _import(url: str, data: Path) -> None:
    from storage.importer import import_paths
    migrate.upgrade(url)
    engine = make_engine(url)
    import_paths([data], make_session_factory(engine))
    if not url.startswith("sqlite"):
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    engine.dispose()


def _import_child(url: str, data: str) -> None:
    _import(url, Path(data))


def _in_child(url: str, data: Path) -> None:
    """Import in a child process, so this process's peak memory is the scan's and Slack's.
    The import is not what is measured here: it gets 1 GB for DuckDB (at 30k orgs its 192 MB
    default ran out of memory on this machine)."""
    os.environ.setdefault("SAAS_TRACKER_IMPORT_MEMORY", "1GB")
    child = multiprocessing.get_context("spawn").Process(target=_import_child, args=(url, str(data)))
    child.start()
    child.join()
    if child.exitcode != 0:
        sys.exit(f"import failed ({child.exitcode})")


@contextmanager
def bench_database(url: str | None, orgs: int, data: Path) -> Iterator[str]:
    """The imported dataset, never scanned: a copy of the cached SQLite file, or the cached
    PostgreSQL schema with any scan results deleted."""
    key = f"{data.name}-r{_head()}"
    if url is None or url.startswith("sqlite"):
        cached = OUT / f"{key}.sqlite"
        if not cached.exists():
            tmp = cached.with_suffix(".partial")
            tmp.unlink(missing_ok=True)
            _in_child(f"sqlite:///{tmp}", data)
            tmp.rename(cached)
        with tempfile.TemporaryDirectory(prefix="scan-bench-") as tmpdir:
            target = Path(tmpdir) / "bench.db"
            shutil.copy(cached, target)
            yield f"sqlite:///{target}"
        return
    schema = "bench_" + hashlib.sha256(key.encode()).hexdigest()[:12]
    sep = "&" if "?" in url else "?"
    scoped = f"{url}{sep}options=-csearch_path%3D{schema}"
    admin = create_engine(url)
    with admin.begin() as conn:
        ready = conn.execute(text("SELECT 1 FROM information_schema.tables WHERE table_schema = :s "
                                  "AND table_name = 'bench_complete'"), {"s": schema}).first()
        if ready is None:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    if ready is None:
        _in_child(scoped, data)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE TABLE "{schema}".bench_complete (x int)'))
    admin.dispose()
    yield scoped


def reset_scan_results(factory: sessionmaker[Session]) -> None:
    """Back to "imported, never scanned". On PostgreSQL the tables are truncated: every run
    then starts from the same state, not from the dead rows of the runs before it (the
    machine's server may run without autovacuum), nor from statistics taken of a table full
    of dead rows (which once planned the next scan's per-org snapshot lookup as a scan of the
    whole table per org)."""
    models = (OrgSegment, Outbox, AuditLog, Signal, HealthSnapshot, ScanRun)
    with factory() as session, session.begin():
        if session.get_bind().dialect.name == "postgresql":
            names = ", ".join(f'"{model.__tablename__}"' for model in models)
            session.execute(text(f"TRUNCATE {names} CASCADE"))
        else:
            for model in models:
                session.execute(delete(model))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(min(rank, len(ordered))) - 1]


def _timed(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - started, result


def _floor_in_child(url: str, app_id: int, when: dt.datetime, check: bool, out: Any) -> None:
    """The floor query timed in a process of its own (see ``floor_apart``); sends back its
    seconds and how many orgs were checked against the scan's snapshots."""
    cfg = Config()
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        seconds, _ = _timed(run_floor, session, app_id, when, cfg)
        checked = check_floor(session, app_id, when, cfg, orgs=1000) if check else 0
    engine.dispose()
    out.send((seconds, checked))
    out.close()


def floor_apart(url: str, app_id: int, when: dt.datetime, check: bool) -> tuple[float, int]:
    """Run the floor in a child process: its wide result, fetched whole, would otherwise count
    in this process's peak RSS, which is meant to be the scan's (and Slack's). The time is
    the query's alone, taken inside the child, after its imports and connection."""
    ctx = multiprocessing.get_context("spawn")
    receive, send = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_floor_in_child, args=(url, app_id, when, check, send))
    child.start()
    send.close()
    try:
        seconds, checked = receive.recv()
    except EOFError:
        child.join()
        sys.exit(f"the floor query failed ({child.exitcode})")
    child.join()
    return seconds, checked


def scan_pairs(factory: sessionmaker[Session], url: str, app_id: int, cfg: Config, pairs: int,
               profile: Path | None) -> dict[str, Any]:
    """Scan then floor, for the first and the next day's scan, ``pairs`` times."""
    out: dict[str, Any] = {"first": [], "first_floor": [], "next": [], "next_floor": []}
    checked = 0
    for i in range(pairs):
        reset_scan_results(factory)
        for label, when in (("first", FIRST_SCAN), ("next", NEXT_SCAN)):
            prof = cProfile.Profile() if profile and i == 0 else None
            if prof:
                prof.enable()
            seconds, _ = _timed(run_scan, factory, cfg, as_of=when)
            if prof:
                prof.disable()
                prof.dump_stats(profile / f"scan_{label}.prof")
            floor_seconds, compared = floor_apart(url, app_id, when, check=i == 0)
            if i == 0:
                checked = compared
            out[label].append(seconds)
            out[f"{label}_floor"].append(floor_seconds)
            print(f"  pair {i + 1} {label:<5}: scan {seconds:6.3f} s  floor {floor_seconds:6.3f} s  "
                  f"ratio {seconds / floor_seconds:5.2f}", file=sys.stderr, flush=True)
    for label in ("first", "next"):
        ratios = [a / b for a, b in zip(out[label], out[f"{label}_floor"])]
        out[f"{label}_ratio"] = statistics.median(ratios)
    out["checked_orgs"] = checked
    return out


def _wait(stub: Any, url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not stub.response_replies(url):
        if time.monotonic() > deadline:
            raise RuntimeError("no answer at the response_url")
        time.sleep(0.0005)


def _wait_for_image(stub: Any, url: str, timeout: float = 30.0) -> None:
    """Until a reply at the response_url shows an image (or the answer has no chart to add)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        replies = stub.response_replies(url)
        if any(b.get("type") == "image" for r in replies for b in r.get("blocks", [])):
            return
        if replies and not any("Usage" in str(b) for b in replies[0].get("blocks", [])):
            return  # not an org page (a choice, not found): no chart coming
        time.sleep(0.005)


def slack_timings(factory: sessionmaker[Session], cfg: Config, n: int, cold: int) -> dict[str, Any]:
    """Answer times of /signals top 25, /org and a Dismiss click through the real app."""
    from bot_harness import SECRET, start_bot
    from slack_stub import SlackStub, block_actions_payload, interaction_body, signed_request_headers
    from slack_stub import slash_command_body

    times: dict[str, list[float]] = {"signals": [], "org": [], "dismiss": [], "org_no_chart": [],
                                     "signals_cold": [], "org_cold": [], "dismiss_cold": [], "org_chart": []}
    charts_on = [cfg.slack.charts]
    with SlackStub() as stub:
        bot = start_bot(factory, stub, cfg, now=READ_AT)
        try:
            def command(cmd: str, text_: str) -> tuple[float, dict]:
                url = stub.new_response_url()
                body = slash_command_body(cmd, text_, response_url=url)
                headers = signed_request_headers(body, SECRET, content_type="application/x-www-form-urlencoded")
                started = time.perf_counter()
                status, _ = bot.post(body, headers)
                assert status == 200, status
                _wait(stub, url)
                answered = time.perf_counter() - started
                if cmd == "/org" and charts_on[0]:
                    # The chart follows the text when it was not in Slack yet: time until it shows.
                    _wait_for_image(stub, url)
                    times["org_chart"].append(time.perf_counter() - started)
                return answered, stub.response_replies(url)[0]

            def listing() -> tuple[float, list[dict], list[tuple[str, dict]]]:
                seconds, reply = command("/signals", "top 25")
                rows = [b for b in reply["blocks"] if b.get("type") == "actions" and
                        any(e.get("action_id") == "signal_dismiss" for e in b.get("elements", []))]
                targets = []
                for row in rows:
                    (menu,) = [e for e in row["elements"] if e["action_id"] == "signal_dismiss"]
                    option = next(o for o in menu["options"] if o["value"].startswith("dismiss|"))
                    targets.append((row["block_id"], option))
                return seconds, reply["blocks"], targets

            def dismiss(blocks: list[dict], block_id: str, option: dict) -> float:
                url = stub.new_response_url()
                payload = block_actions_payload(blocks, "signal_dismiss", block_id=block_id,
                                                option_value=option["value"], response_url=url,
                                                channel_id="C0CUSTSUCC", message_ts="1700000001.000100")
                body = interaction_body(payload)
                headers = signed_request_headers(body, SECRET, content_type="application/x-www-form-urlencoded")
                started = time.perf_counter()
                status, _ = bot.post(body, headers)
                assert status == 200, status
                _wait(stub, url)
                return time.perf_counter() - started

            def org_of(block_id: str) -> str:
                return block_id.rsplit("|", 1)[-1]

            # Cold: the first request of each kind after a scan (the day's scan run again).
            for _ in range(cold):
                run_scan(factory, cfg, as_of=NEXT_SCAN)
                seconds, blocks, targets = listing()
                times["signals_cold"].append(seconds)
                times["org_cold"].append(command("/org", org_of(targets[0][0]))[0])
                times["dismiss_cold"].append(dismiss(blocks, *targets[0]))
            # Warm: n of each; every listing's orgs are dismissed one by one.
            targets: list[tuple[str, dict]] = []
            blocks: list[dict] = []
            while len(times["dismiss"]) < n:
                if not targets:
                    seconds, blocks, targets = listing()
                    if len(times["signals"]) < n:
                        times["signals"].append(seconds)
                    if not targets:
                        break
                block_id, option = targets.pop(0)
                if len(times["org"]) < n:
                    times["org"].append(command("/org", org_of(block_id))[0])
                times["dismiss"].append(dismiss(blocks, block_id, option))
            while len(times["signals"]) < n:
                times["signals"].append(command("/signals", "top 25")[0])
            while len(times["org"]) < n:
                times["org"].append(command("/org", org_of(block_id))[0])
        finally:
            bot.stop()
        # /org again with charts off (slack.charts = false): the answer without drawing its PNG.
        from domain.config import config_from_dict
        plain_cfg = config_from_dict({"slack": {"charts": False}})
        charts_on[0] = False
        bot = start_bot(factory, stub, plain_cfg, now=READ_AT)
        try:
            _seconds, reply = command("/signals", "top 25")
            orgs = [b["block_id"].rsplit("|", 1)[-1] for b in reply["blocks"]
                    if b.get("type") == "actions" and "|" in b.get("block_id", "")] or ["none"]
            times["org_no_chart"] = [command("/org", orgs[i % len(orgs)])[0] for i in range(n)]
        finally:
            bot.stop()
    return {k: {"n": len(v), "p50": percentile(v, 50), "p99": percentile(v, 99)} for k, v in times.items() if v}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orgs", type=int, default=10_000)
    parser.add_argument("--pairs", type=int, default=3, help="scan/floor pairs per scan")
    parser.add_argument("--slack", type=int, default=200, help="warm requests of each kind")
    parser.add_argument("--cold", type=int, default=5, help="requests of each kind right after a scan")
    parser.add_argument("--database-url", help="PostgreSQL URL (default: SQLite)")
    parser.add_argument("--json", action="store_true", help="print the results as one JSON line at the end")
    parser.add_argument("--profile", type=Path, metavar="DIR", help="cProfile files of the first pair's scans")
    args = parser.parse_args()
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)

    data = demo_data_dir(args.orgs)
    cfg = Config()
    db = "SQLite" if not args.database_url or args.database_url.startswith("sqlite") else "PostgreSQL"
    print(f"{db}, {args.orgs:,} orgs:", file=sys.stderr, flush=True)
    with bench_database(args.database_url, args.orgs, data) as url:
        engine = make_engine(url)
        factory = make_session_factory(engine)
        reset_scan_results(factory)
        with factory() as session:
            app = find_application(session, cfg.application)
            assert app is not None, "the demo data imported no application"
            app_id = app.id
        result: dict[str, Any] = {"db": db, "orgs": args.orgs}
        result["scan"] = scan_pairs(factory, url, app_id, cfg, args.pairs, args.profile)
        result["scan_peak_mb"] = _peak_mb()
        if args.slack:
            result["slack"] = slack_timings(factory, cfg, args.slack, args.cold)
        result["peak_mb"] = _peak_mb()
        engine.dispose()
    if args.json:
        print(json.dumps(result))
    else:
        print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
