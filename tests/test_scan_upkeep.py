"""After a scan: on PostgreSQL the tables Slack reads are vacuumed at once (a scan replaces
every org's segments row; until VACUUM the lists' index reads visit every dead version) and
the snapshots analysed (the next scan looks each org's latest one up); SQLite is left alone
(its VACUUM would rewrite the whole file)."""

from __future__ import annotations

import datetime as dt
import logging
import threading

from sqlalchemy import event, text

from domain.config import Config
from services.scanning import run_scan
from storage.upkeep import SCAN_CHURNED_TABLES, SCAN_GROWN_TABLES
from test_queries import AS_OF, _seed


def _vacuum_counts(factory) -> dict[str, int]:
    with factory() as session:
        rows = session.execute(text(
            "SELECT relname, vacuum_count FROM pg_stat_user_tables "
            "WHERE schemaname = current_schema() AND relname = ANY(:names)"),
            {"names": list(SCAN_CHURNED_TABLES)}).all()
    return {name: int(count) for name, count in rows}


def test_each_scan_vacuums_what_it_churned_on_postgresql_only(session_factory) -> None:
    with session_factory() as session, session.begin():
        _seed(session)
        engine = session.get_bind()
    vacuums: list[str] = []
    threads: list[str] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _seen(conn, cursor, statement, *args) -> None:
        if statement.lstrip().upper().startswith(("VACUUM", "ANALYZE")):
            vacuums.append(statement)
            threads.append(threading.current_thread().name.split("_")[0])

    postgresql = engine.dialect.name == "postgresql"
    before = _vacuum_counts(session_factory) if postgresql else {}
    run_scan(session_factory, Config(), AS_OF)
    run_scan(session_factory, Config(), AS_OF + dt.timedelta(days=1))  # replaces every segments row
    event.remove(engine, "before_cursor_execute", _seen)

    if not postgresql:
        assert vacuums == []
        return
    # Each scan's three statements run side by side, on connections of their own: in any order.
    assert sorted(vacuums) == sorted(([f'VACUUM (ANALYZE, SKIP_LOCKED) "{t}"' for t in SCAN_CHURNED_TABLES]
                                      + [f'ANALYZE (SKIP_LOCKED) "{t}"' for t in SCAN_GROWN_TABLES]) * 2)
    assert set(threads) == {"upkeep"}
    after = _vacuum_counts(session_factory)
    assert {t: after[t] - before.get(t, 0) for t in SCAN_CHURNED_TABLES} == {"org_segments": 2, "signals": 2}
    with session_factory() as session:  # the planner knows the snapshots the two scans wrote
        known = session.scalar(text("SELECT reltuples FROM pg_class WHERE oid = 'health_snapshots'::regclass"))
        stored = session.scalar(text("SELECT count(*) FROM health_snapshots"))
    assert stored > 0 and known == stored
    with session_factory() as session:
        dead = session.scalar(text(
            "SELECT n_dead_tup FROM pg_stat_user_tables WHERE schemaname = current_schema() "
            "AND relname = 'org_segments'"))
    assert dead == 0


def test_a_failing_upkeep_statement_is_logged_and_the_others_still_run(session_factory, monkeypatch, caplog):
    with session_factory() as session, session.begin():
        _seed(session)
        engine = session.get_bind()
    import storage.upkeep as upkeep

    # Listed first: the statements after it must still run.
    monkeypatch.setattr(upkeep, "SCAN_CHURNED_TABLES", ("no_such_table", *SCAN_CHURNED_TABLES))
    postgresql = engine.dialect.name == "postgresql"
    before = _vacuum_counts(session_factory) if postgresql else {}
    with caplog.at_level(logging.WARNING, logger="storage.upkeep"):
        run_scan(session_factory, Config(), AS_OF)  # no error reaches the scan's caller
    if not postgresql:  # no upkeep on SQLite: nothing to fail
        assert caplog.records == []
        return
    assert [r.getMessage().split(":")[0] for r in caplog.records] == ["upkeep after the scan failed (autovacuum "
                                                                       "will catch up)"]
    assert "no_such_table" in caplog.records[0].getMessage()
    after = _vacuum_counts(session_factory)
    assert {t: after[t] - before.get(t, 0) for t in SCAN_CHURNED_TABLES} == {"org_segments": 1, "signals": 1}
    with session_factory() as session:  # and the snapshots were analysed
        known = session.scalar(text("SELECT reltuples FROM pg_class WHERE oid = 'health_snapshots'::regclass"))
        stored = session.scalar(text("SELECT count(*) FROM health_snapshots"))
    assert stored > 0 and known == stored
