"""What a series of scans of the demo data stores and what the read side shows of it, as plain
JSON-able rows: the reference the scan's stored values are compared with, row by row.

``tests/data/scan_golden.json`` holds these rows as the scan wrote them before its write path
was vectorized and before the segments were stored (``python tests/scan_golden.py`` writes
it again; only do that for a deliberate change of what a scan stores or shows).

The series: four scans of a 200-org, 90-day demo (two weeks before the data's end, one week
before, its last day, the day after), with a few signals dismissed and snoozed between them
(one snooze running out before the next scan) so every path of the episode plan is taken.
Read side, right after the last scan and on its day: each org's cell, tier, quadrant, tier
numbers and case suggestion, the four cells' totals and members, and ``/signals top 25``.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from demo.generator import generate_demo_data  # noqa: E402
from domain.config import Config  # noqa: E402
from domain.vocabulary import CELL_KEYS, STATUS_DISMISSED, STATUS_SNOOZED  # noqa: E402
from services import org_details, segmentation, signal_list  # noqa: E402
from services.scanning import run_scan  # noqa: E402
from storage.importer import import_paths  # noqa: E402
from storage.models import HealthSnapshot, Signal  # noqa: E402

GOLDEN = Path(__file__).resolve().parent / "data" / "scan_golden.json"
UTC = dt.timezone.utc
END = dt.date(2026, 11, 20)
ORGS, DAYS, SEED = 200, 90, 7
SCANS = (
    dt.datetime(2026, 11, 6, 7, 0, tzinfo=UTC),
    dt.datetime(2026, 11, 13, 7, 0, tzinfo=UTC),
    dt.datetime(2026, 11, 20, 23, 59, tzinfo=UTC),
    dt.datetime(2026, 11, 21, 7, 0, tzinfo=UTC),
)
READ_AT = SCANS[-1] + dt.timedelta(hours=2)


def generate(data_dir: Path) -> None:
    generate_demo_data(data_dir, orgs=ORGS, days=DAYS, seed=SEED, end_date=END)


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, (str, bool)):
        return value
    if value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, Decimal):  # NUMERIC columns: their exact text
        return str(value)
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item"):  # numpy scalars
        return _plain(value.item())
    return value


def _people_act(factory: sessionmaker[Session], after_scan: int) -> None:
    """Between scans: dismiss two open signals, snooze two (one until before the next scan)."""
    with factory() as s, s.begin():
        ids = list(s.scalars(select(Signal.id).where(Signal.status == "active").order_by(Signal.id)))
        picked = ids[after_scan::7][:4]
        if len(picked) < 4:
            return
        s.execute(update(Signal).where(Signal.id.in_(picked[:2])).values(
            status=STATUS_DISMISSED, dismissed_by="golden"))
        nxt = SCANS[after_scan + 1]
        s.execute(update(Signal).where(Signal.id == picked[2]).values(
            status=STATUS_SNOOZED, snoozed_until=nxt - dt.timedelta(hours=1)))
        s.execute(update(Signal).where(Signal.id == picked[3]).values(
            status=STATUS_SNOOZED, snoozed_until=nxt + dt.timedelta(days=30)))


def scan_series(factory: sessionmaker[Session], data_dir: Path, cfg: Config | None = None) -> None:
    """Import the demo CSVs and run the scans (with people acting between them)."""
    cfg = cfg or Config()
    import_paths([data_dir], factory)
    for i, when in enumerate(SCANS):
        run_scan(factory, cfg, as_of=when)
        if i + 1 < len(SCANS):
            _people_act(factory, i)


_SNAPSHOT_COLUMNS = ("org_id", "day", "scan_run_id", "score", "band", "components", "left_out", "mrr",
                     "last_seen", "usage")
_SIGNAL_COLUMNS = ("id", "application_id", "org_id", "type", "status", "priority", "evidence", "reason",
                   "suggested_case", "opened_at", "updated_at", "resolved_at", "snoozed_until",
                   "opened_scan_id", "dismissed_by")


def stored_rows(factory: sessionmaker[Session]) -> dict[str, list[dict[str, Any]]]:
    """Every stored snapshot (by day, org) and signal (by id), as plain values."""
    with factory() as s:
        snaps = s.execute(select(*[getattr(HealthSnapshot, c) for c in _SNAPSHOT_COLUMNS])
                          .order_by(HealthSnapshot.day, HealthSnapshot.org_id)).all()
        sigs = s.execute(select(*[getattr(Signal, c) for c in _SIGNAL_COLUMNS]).order_by(Signal.id)).all()
    return {
        "snapshots": [{c: _plain(v) for c, v in zip(_SNAPSHOT_COLUMNS, row)} for row in snaps],
        "signals": [{c: _plain(v) for c, v in zip(_SIGNAL_COLUMNS, row)} for row in sigs],
    }


def _tier_numbers(detail: org_details.OrgDetail) -> dict[str, Any]:
    return {"tier": detail.tier, "quadrant": detail.quadrant, "cell": detail.cell,
            **{k: _plain(detail.extras.get(k)) for k in ("cell_key", "value", "potential", "account_priority",
                                                        "case_why")},
            "case_suggested": detail.item.case_suggested}


def read_views(factory: sessionmaker[Session], cfg: Config | None = None) -> dict[str, Any]:
    """What /org, /signals and the cells show right after the last scan."""
    cfg = cfg or Config()
    with factory() as s:
        from storage.db import find_application
        app_id = find_application(s, cfg.application).id
        listing = signal_list.list_signals(s, app_id, READ_AT, signal_list.SignalFilter(top=25), cfg)
        items = [_plain({"org_id": i.org_id, "case_suggested": i.case_suggested, "mrr": i.mrr, "health": i.health,
                         "band": i.band, "health_delta": i.health_delta, "priority": i.priority,
                         "last_seen": i.last_seen, "not_active": i.not_active,
                         "signals": [sv.id for sv in i.signals]}) for i in listing.items]
        cards = listing.cards
        cells = {}
        for key in CELL_KEYS:
            view, rows = segmentation.cell_orgs(s, app_id, key, READ_AT, cfg)
            cells[key] = {"label": view.label, "org_count": view.org_count, "mrr": view.mrr,
                          "rows": [_plain(list(r)) for r in rows]}
        filtered = {}
        for key in CELL_KEYS:
            got = signal_list.list_signals(s, app_id, READ_AT, signal_list.SignalFilter(top=500, cell=key), cfg)
            filtered[f"cell:{key}"] = [i.org_id for i in got.items]
        for tier in ("Tier 1", "Tier 2", "Tier 3", "Tier 4"):
            got = signal_list.list_signals(s, app_id, READ_AT, signal_list.SignalFilter(top=500, tier=tier), cfg)
            filtered[f"tier:{tier}"] = [i.org_id for i in got.items]
        org_ids = sorted(s.scalars(select(HealthSnapshot.org_id).distinct()))
        orgs = {}
        for org_id in org_ids:
            detail = org_details.org_detail(s, app_id, org_id, READ_AT, cfg)
            orgs[org_id] = _plain(_tier_numbers(detail))
    return {
        "cards": _plain({"orgs_with_signals": cards.orgs_with_signals, "mrr_at_risk": cards.mrr_at_risk,
                  "active_signals": cards.active_signals, "onboarding_mrr": cards.onboarding_mrr,
                  "opened_this_week": cards.opened_this_week, "resolved_this_week": cards.resolved_this_week}),
        "total": listing.total,
        "top25": items,
        "cells": cells,
        "filtered": filtered,
        "orgs": orgs,
    }


def golden(factory: sessionmaker[Session], data_dir: Path) -> dict[str, Any]:
    scan_series(factory, data_dir)
    return {**stored_rows(factory), "reads": read_views(factory)}


def main() -> None:
    import tempfile

    from storage import migrate
    from storage.db import make_engine, make_session_factory

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        generate(root / "data")
        url = f"sqlite:///{root / 'golden.db'}"
        migrate.upgrade(url)
        engine = make_engine(url)
        data = golden(make_session_factory(engine), root / "data")
        engine.dispose()
    GOLDEN.parent.mkdir(parents=True, exist_ok=True)
    GOLDEN.write_text(json.dumps(data, indent=None, sort_keys=True, separators=(",", ":")) + "\n")
    print(f"{GOLDEN}: {len(data['snapshots'])} snapshots, {len(data['signals'])} signals, "
          f"{len(data['reads']['orgs'])} orgs read")


if __name__ == "__main__":
    main()
