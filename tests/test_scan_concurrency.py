"""Two scans started together both succeed, one after the other, on PostgreSQL.

A cron job and a person at the terminal, or two worker replicas, may start a scan at the
same moment. Without the scan lock both would rewrite the day's snapshots and open the same
signals in parallel transactions, and one would fail on a duplicate key.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from demo.generator import generate_demo_data
from domain.config import Config
from domain.vocabulary import STATUS_ACTIVE
from services import scanning
from storage.importer import import_paths
from storage.models import HealthSnapshot, ScanRun, Signal
from storage.scan_lock import hold_scan_lock, scan_lock_key

END = dt.date(2026, 11, 30)
WAITING_FOR_ADVISORY_LOCKS = text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
AS_OF = dt.datetime(2026, 11, 30, 23, 0, tzinfo=dt.timezone.utc)


def _scan_together(factory, cfg: Config, times: list[dt.datetime]) -> list[object]:
    """Start one scan per time at the same instant; each thread's result or exception."""
    barrier = threading.Barrier(len(times))
    outcomes: list[object] = [None] * len(times)

    def scan(i: int) -> None:
        barrier.wait()
        try:
            outcomes[i] = scanning.run_scan(factory, cfg, times[i])
        except Exception as exc:  # noqa: BLE001 - the test reports what each scan ended with
            outcomes[i] = exc

    threads = [threading.Thread(target=scan, args=(i,)) for i in range(len(times))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    return outcomes


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_two_scans_started_together_both_succeed_one_after_the_other(session_factory, tmp_path: Path) -> None:
    generate_demo_data(tmp_path / "data", orgs=120, days=45, seed=3, end_date=END)
    import_paths([tmp_path / "data"], session_factory)
    cfg = Config()

    outcomes = _scan_together(session_factory, cfg, [AS_OF, AS_OF, AS_OF])

    assert all(isinstance(o, scanning.ScanResult) for o in outcomes), outcomes
    first, *later = sorted(outcomes, key=lambda r: r.run_id)  # type: ignore[union-attr]
    # The first opened the signals; the others, run on its results, updated the same ones.
    assert first.opened and all(r.opened == 0 and r.updated == first.opened for r in later)  # type: ignore[union-attr]
    with session_factory() as s:
        runs = s.execute(select(ScanRun.status)).scalars().all()
        assert runs == ["ok", "ok", "ok"]
        per_org_type = s.execute(
            select(Signal.org_id, Signal.type, func.count())
            .where(Signal.status == STATUS_ACTIVE)
            .group_by(Signal.org_id, Signal.type)
            .having(func.count() > 1)
        ).all()
        assert per_org_type == []
        snapshots = s.scalar(select(func.count()).select_from(HealthSnapshot))
        assert snapshots == first.orgs_scanned  # type: ignore[union-attr]


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_scan_that_waited_behind_a_later_one_is_refused_not_run(session_factory, tmp_path: Path) -> None:
    generate_demo_data(tmp_path / "data", orgs=60, days=45, seed=3, end_date=END)
    import_paths([tmp_path / "data"], session_factory)
    earlier, later = AS_OF - dt.timedelta(hours=5), AS_OF
    outcomes = _scan_together(session_factory, Config(), [later, earlier])
    # Whichever got the lock first: the later scan always runs, the earlier one runs only if
    # it went first, and otherwise says in one line that the later one's results stand,
    # without recording a failed run.
    assert isinstance(outcomes[0], scanning.ScanResult)
    with session_factory() as s:
        statuses = s.execute(select(ScanRun.status)).scalars().all()
    if isinstance(outcomes[1], scanning.ScanResult):
        assert statuses == ["ok", "ok"]
    else:
        assert isinstance(outcomes[1], scanning.ScanSuperseded)
        assert "finished while this one (as of 2026-11-30 18:00:00 UTC) was waiting" in str(outcomes[1])
        assert statuses == ["ok"]


def test_scans_started_together_commit_in_time_order_on_both_databases(session_factory, tmp_path: Path) -> None:
    """SQLite has no advisory lock: its order is checked again under its write lock."""
    generate_demo_data(tmp_path / "data", orgs=40, days=45, seed=3, end_date=END)
    import_paths([tmp_path / "data"], session_factory)
    for hour in (12, 16, 20):
        later = dt.datetime(2026, 11, 30, hour, tzinfo=dt.timezone.utc)
        outcomes = _scan_together(session_factory, Config(), [later, later - dt.timedelta(hours=1)])
        assert all(isinstance(o, (scanning.ScanResult, scanning.ScanSuperseded)) for o in outcomes), outcomes
    with session_factory() as s:
        committed = s.execute(select(ScanRun.as_of).where(ScanRun.status == "ok").order_by(ScanRun.id)).scalars().all()
    assert committed == sorted(committed) and len(committed) >= 3


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_two_scan_commands_started_together_both_exit_0_with_one_set_of_results(
        session_factory, db_url: str, tmp_path: Path) -> None:
    generate_demo_data(tmp_path / "data", orgs=80, days=45, seed=5, end_date=END)
    import_paths([tmp_path / "data"], session_factory)
    env = {**os.environ, "DATABASE_URL": db_url}
    command = [sys.executable, "-c", "import sys, cli; sys.argv[0] = 'saas-tracker'; cli.main()",
               "scan", "--as-of", "2026-11-30"]
    procs = [subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    done = [(p.wait(timeout=300), *p.communicate()) for p in procs]
    assert [rc for rc, _out, _err in done] == [0, 0], done
    assert all("Traceback" not in err for _rc, _out, err in done)
    with session_factory() as s:
        assert s.execute(select(ScanRun.status)).scalars().all() == ["ok", "ok"]
        duplicates = s.execute(
            select(Signal.org_id, Signal.type).where(Signal.status == STATUS_ACTIVE)
            .group_by(Signal.org_id, Signal.type).having(func.count() > 1)
        ).all()
        assert duplicates == []


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_scan_that_must_wait_says_so_in_one_log_line_then_runs(session_factory, tmp_path: Path, caplog) -> None:
    generate_demo_data(tmp_path / "data", orgs=40, days=45, seed=5, end_date=END)
    import_paths([tmp_path / "data"], session_factory)
    results: list[object] = []
    caplog.set_level(logging.INFO, logger="services.scanning")
    with session_factory() as holder, holder.begin():
        hold_scan_lock(holder, "default")  # another scan's transaction, as far as the lock knows
        worker = threading.Thread(target=lambda: results.append(scanning.run_scan(session_factory, Config(), AS_OF)))
        worker.start()
        with session_factory() as probe:  # until the scan is queued behind the held lock
            for _ in range(600):
                waiting = probe.scalar(WAITING_FOR_ADVISORY_LOCKS)
                probe.rollback()
                if waiting:
                    break
                time.sleep(0.1)
        assert waiting == 1 and results == []
    worker.join(timeout=300)
    assert len(results) == 1 and isinstance(results[0], scanning.ScanResult)
    waits = [r.getMessage() for r in caplog.records if "another scan of default is running" in r.getMessage()]
    assert len(waits) == 1


def test_each_application_has_its_own_stable_lock_key() -> None:
    assert scan_lock_key("default") == scan_lock_key("default")
    assert scan_lock_key("default") != scan_lock_key("eu")
    assert -(2**63) <= scan_lock_key("default") < 2**63
