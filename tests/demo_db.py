"""A scanned demo database in SQLite, built the way `make demo` builds it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import Engine

from domain.config import Config
from demo.generator import generate_demo_data
from services.scanning import run_scan
from storage import migrate
from storage.db import make_engine, make_session_factory
from storage.importer import import_paths


def build_demo_db(root: Path, *, orgs: int, days: int, end: dt.date, as_of: dt.datetime,
                  seed: int = 7) -> tuple[str, Engine]:
    """Generate CSVs under root/data, migrate, import and scan; returns (url, engine)."""
    generate_demo_data(root / "data", orgs=orgs, days=days, seed=seed, end_date=end)
    url = f"sqlite:///{root / 'demo.db'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    import_paths([root / "data"], factory)
    run_scan(factory, Config(), as_of)
    return url, engine
