"""Two scans started together both succeed, one after the other, on PostgreSQL.

A cron job and a person at the terminal, or two worker replicas, may start a scan at the
same moment. Without the scan lock both would rewrite the day's snapshots and open the same
signals in parallel transactions, and one would fail on a duplicate key.
"""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select

from demo.generator import generate_demo_data
from domain.config import Config
from domain.vocabulary import STATUS_ACTIVE
from services import scanning
from storage.importer import import_paths
from storage.models import HealthSnapshot, ScanRun, Signal
from storage.scan_lock import scan_lock_key

END = dt.date(2026, 11, 30)
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
    # it went first, and is otherwise refused in one line without recording a failed run.
    assert isinstance(outcomes[0], scanning.ScanResult)
    with session_factory() as s:
        statuses = s.execute(select(ScanRun.status)).scalars().all()
    if isinstance(outcomes[1], scanning.ScanResult):
        assert statuses == ["ok", "ok"]
    else:
        assert isinstance(outcomes[1], scanning.ScanOrderError)
        assert "before the latest scan" in str(outcomes[1])
        assert statuses == ["ok"]


def test_each_application_has_its_own_stable_lock_key() -> None:
    assert scan_lock_key("default") == scan_lock_key("default")
    assert scan_lock_key("default") != scan_lock_key("eu")
    assert -(2**63) <= scan_lock_key("default") < 2**63
