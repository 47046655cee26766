"""A scan stores exactly what it stored before its write path was vectorized, and the read side
shows exactly what it showed before the segments were stored by the scan: every snapshot and
signal row, and every org's cell, tier and case suggestion, compared with
``tests/data/scan_golden.json`` (written by ``tests/scan_golden.py`` from the earlier code).
On SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest

from scan_golden import GOLDEN, generate, read_views, scan_series, stored_rows

pytestmark = pytest.mark.slow  # generates the demo data and runs four scans


@pytest.fixture(scope="module")
def demo_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("golden")
    generate(root / "data")
    return root / "data"


@pytest.fixture(scope="module")
def expected():
    return json.loads(GOLDEN.read_text())


def _first_difference(name: str, got: list, want: list) -> str:
    for i, (g, w) in enumerate(zip(got, want)):
        if g != w:
            keys = sorted(k for k in set(g) | set(w) if g.get(k) != w.get(k))
            return f"{name} row {i}: " + "; ".join(f"{k}: {g.get(k)!r} != {w.get(k)!r}" for k in keys)
    return f"{name}: {len(got)} rows, expected {len(want)}"


def test_stored_rows_and_reads_equal_the_reference(session_factory, demo_data, expected) -> None:
    scan_series(session_factory, demo_data)
    got = stored_rows(session_factory)
    assert len(got["snapshots"]) == 800 and len(got["signals"]) == len(expected["signals"]) > 50
    for name in ("snapshots", "signals"):
        assert got[name] == expected[name], _first_difference(name, got[name], expected[name])
    reads = read_views(session_factory)
    for key, want in expected["reads"].items():
        if key == "orgs":
            for org_id, row in want.items():
                assert reads["orgs"][org_id] == row, org_id
        assert reads[key] == want, key
