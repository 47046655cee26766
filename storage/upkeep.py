"""Table upkeep after a scan, on PostgreSQL.

A scan replaces every org's ``org_segments`` row and updates or resolves many ``signals``.
Each replaced row leaves its old version behind, and until VACUUM has passed, the lists'
index reads visit the table for every entry, dead ones included, and the planner works from
statistics of the rows that were replaced. Measured at 100k orgs: a `/signals` page took
0.9 s right after a scan and 58 ms once these two tables were vacuumed. autovacuum would get
there on its own schedule, or never where it is switched off; the scan does it at once for
the tables Slack reads, so the first answers after a scan are as fast as the later ones.
SQLite rewrites its B-trees in place and needs nothing.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)

# What a scan churns and Slack reads: vacuumed and analysed.
SCAN_CHURNED_TABLES = ("org_segments", "signals")
# What a scan appends to (a day's snapshot per org) and the next scan looks up per org:
# analysed, so the planner knows its size. With statistics from when it held no rows, the
# next scan's lookup of each org's latest snapshot was planned as a scan of the whole table
# per org (seen at 100k orgs: ten minutes instead of a second).
SCAN_GROWN_TABLES = ("health_snapshots",)


def vacuum_after_scan(factory: sessionmaker[Session]) -> None:
    """VACUUM (ANALYZE) the tables a scan churned and ANALYZE the one it grew, after its
    commit, each statement on a connection of its own, side by side: the server works them
    on separate processes (at 100k orgs 0.63-0.68 s together against 1.30-1.41 s one after
    the other). A failure is logged, not raised: the scan's results are already committed
    and autovacuum remains the fallback."""
    with factory() as session:
        bind = session.get_bind()
    if not isinstance(bind, Engine) or bind.dialect.name != "postgresql":
        return
    # SKIP_LOCKED: a table another process is vacuuming (a second replica's scan) is left
    # to it rather than waited for.
    statements = ([f'VACUUM (ANALYZE, SKIP_LOCKED) "{table}"' for table in SCAN_CHURNED_TABLES]
                  + [f'ANALYZE (SKIP_LOCKED) "{table}"' for table in SCAN_GROWN_TABLES])
    try:
        with ThreadPoolExecutor(max_workers=max(1, len(statements)), thread_name_prefix="upkeep") as pool:
            list(pool.map(lambda statement: _run_upkeep(bind, statement), statements))
    except Exception as exc:  # the pool itself (no thread to be had): the scan stays committed and ok
        log.warning("upkeep after the scan failed (autovacuum will catch up): %s", exc)


def _run_upkeep(engine: Engine, statement: str) -> None:
    try:
        # VACUUM runs outside a transaction.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql(statement)
    except Exception as exc:  # whatever it is, the scan's results are committed: logged, not raised
        log.warning("upkeep after the scan failed (autovacuum will catch up): %s: %s", statement, exc)
