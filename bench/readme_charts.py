"""Regenerate the charts the README shows (docs/images/*.png) from the demo data.

Usage:
    .venv/bin/python bench/readme_charts.py [--out docs/images]

It builds the `make demo` data set with a fixed end date (300 orgs, 120 days, seed 7, data
ending 2026-11-25) in a temporary SQLite database, scans it once a week for the last 12
weeks (so the org charts have a health history, as a deployment scanning every few hours
would), then writes, with the very functions the Slack app and `--chart DIR` use:

* ``org-initech-12-weeks.png`` and ``org-acme-12-weeks.png`` — an org's weekly health and
  usage (`/org`, the org modal, `saas-tracker org NAME --chart DIR`);
* ``revenue-health-map.png`` and ``mrr-trend.png`` — the weekly digest's two charts
  (`saas-tracker digest --dry-run --chart DIR`).

Charts are byte-for-byte repeatable, so running it again changes nothing unless the
charts, the demo generator or the scoring changed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

END = dt.date(2026, 11, 25)
SCAN_TIME = dt.time(8, 52, tzinfo=dt.timezone.utc)
DIGEST_AT = dt.datetime(2026, 11, 30, 9, 5, tzinfo=dt.timezone.utc)  # Monday, the week after
ORGS = ("initech", "acme")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    args = parser.parse_args()

    from bot.digest_charts import MRR_TREND, REVENUE_HEALTH_MAP, digest_charts
    from bot.org_charts import org_chart_png
    from demo.generator import generate_demo_data
    from domain.config import Config
    from services.digest import build_digest
    from services.scanning import run_scan
    from services.tracker import Tracker
    from storage import migrate
    from storage.db import find_application, make_engine, make_session_factory
    from storage.importer import import_paths

    cfg = Config()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        generate_demo_data(root / "data", orgs=300, days=120, seed=7, end_date=END)
        url = f"sqlite:///{root / 'demo.db'}"
        migrate.upgrade(url)
        engine = make_engine(url)
        factory = make_session_factory(engine)
        import_paths([root / "data"], factory)
        for weeks_back in range(11, -1, -1):
            day = END - dt.timedelta(weeks=weeks_back)
            run_scan(factory, cfg, dt.datetime.combine(day, SCAN_TIME))
        now = dt.datetime.combine(END, SCAN_TIME)
        tracker = Tracker(factory, cfg, clock=lambda: now)
        written = []
        for org_id in ORGS:
            detail = tracker.org_detail(org_id, now)
            png = org_chart_png(detail) if detail is not None else None
            if png is None:
                raise SystemExit(f"no chart for {org_id}: is the demo data as expected?")
            written.append((f"org-{org_id}-12-weeks.png", png))
        with factory() as session:
            app = find_application(session, cfg.application)
            assert app is not None
            digest = build_digest(session, app.id, DIGEST_AT, cfg)
        names = {REVENUE_HEALTH_MAP: "revenue-health-map.png", MRR_TREND: "mrr-trend.png"}
        written += [(names[chart.name], chart.png) for chart in digest_charts(digest, cfg)]
        engine.dispose()
    for name, png in written:
        (args.out / name).write_bytes(png)
        print(f"wrote {args.out / name} ({len(png):,} bytes)")


if __name__ == "__main__":
    main()
