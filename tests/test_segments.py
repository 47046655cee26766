"""Revenue × Health cells: boundaries, the median rule, and the four-cell summary."""

from __future__ import annotations

import math

import pandas as pd

from scoring.segments import CELL_KEYS, CELL_LABELS, cell_summary, mrr_split, revenue_health_cells


def orgs(rows: dict[str, tuple[float, float]]) -> pd.DataFrame:
    return pd.DataFrame.from_dict(rows, orient="index", columns=["mrr", "health"]).rename_axis("org_id")


def test_median_split_even_count_and_health_boundary() -> None:
    # Paying MRRs 100, 200, 300, 400 → median 250; the free org is not part of the median.
    # Health is judged as shown, whole points: 59.4 reads 59 (low), 59.5 reads 60 (high).
    frame = orgs({"a": (100, 59.4), "b": (200, 60.0), "c": (300, 59.4), "d": (400, 59.5), "free": (0, 90.0)})
    assert mrr_split(frame["mrr"]) == 250.0
    cells = revenue_health_cells(frame)
    assert cells["cell"].to_dict() == {"a": "watch", "b": "expansion", "c": "revenue_at_risk", "d": "champions"}
    assert cells.loc["c", "cell_label"] == "Retention"


def test_median_org_itself_counts_as_high() -> None:
    # Odd count: median 200 is an org's own MRR, and ≥ means it is high.
    frame = orgs({"a": (100, 80), "b": (200, 80), "c": (300, 80)})
    cells = revenue_health_cells(frame)
    assert cells["mrr_high"].to_dict() == {"a": False, "b": True, "c": True}
    assert cells["cell"].to_dict() == {"a": "expansion", "b": "champions", "c": "champions"}


def test_configured_amount_replaces_the_median() -> None:
    frame = orgs({"a": (999.99, 10), "b": (1000, 10), "c": (5000, 70)})
    cells = revenue_health_cells(frame, split_amount=1000, health_split=70)
    assert cells["cell"].to_dict() == {"a": "watch", "b": "revenue_at_risk", "c": "champions"}


def test_unscored_paying_org_is_in_no_cell() -> None:
    frame = orgs({"a": (100, math.nan), "b": (300, 30)})
    cells = revenue_health_cells(frame)
    assert cells["cell"].to_dict() == {"a": None, "b": "revenue_at_risk"}
    summary = cell_summary(cells).set_index("key")
    assert summary["org_count"].sum() == 1


def test_summary_has_all_four_cells_in_grid_order() -> None:
    frame = orgs({"a": (100.10, 30), "b": (100.20, 30), "c": (500, 30), "d": (500, 90), "e": (0, 10)})
    # Median of 100.10, 100.20, 500, 500 is 300.10: a, b low; c, d high.
    summary = cell_summary(revenue_health_cells(frame))
    assert summary.to_dict("records") == [
        {"key": "revenue_at_risk", "label": "Retention", "org_count": 1, "mrr": 500.0},
        {"key": "champions", "label": "Champions", "org_count": 1, "mrr": 500.0},
        {"key": "watch", "label": "Watch", "org_count": 2, "mrr": 200.30},
        {"key": "expansion", "label": "Expansion", "org_count": 0, "mrr": 0.0},
    ]


def test_empty_frame_gives_four_empty_cells() -> None:
    summary = cell_summary(revenue_health_cells(orgs({})))
    assert summary["key"].tolist() == list(CELL_KEYS)
    assert summary["label"].tolist() == [CELL_LABELS[k] for k in CELL_KEYS]
    assert summary["org_count"].tolist() == [0, 0, 0, 0]
    assert summary["mrr"].tolist() == [0.0, 0.0, 0.0, 0.0]


# --- service and CLI, on SQLite and PostgreSQL -------------------------------------------

from click.testing import CliRunner  # noqa: E402

from revenue_helpers import AS_OF, seed  # noqa: E402
from cli import cli  # noqa: E402
from domain.config import Config, config_from_dict  # noqa: E402
from services.revenue import cell_views, segments_report  # noqa: E402
from services.read_models import CellView  # noqa: E402


def test_segments_report_uses_latest_snapshot_and_current_mrr(session_factory) -> None:
    with session_factory() as session:
        seed(session)
        report = segments_report(session, "default", AS_OF, Config())
    # Paying: E 40, C 50, D 80, A 150, B 200 → median 80 (D itself is high).
    assert (report.mrr_split, report.split_is_median, report.unscored) == (80.0, True, 1)
    # A's latest snapshot on or before as_of (Mar 30, health 30) decides, not Mar 1 or Apr 2.
    assert report.cells["cell"].to_dict() == {"A": "revenue_at_risk", "B": "champions", "C": "expansion",
                                              "D": "revenue_at_risk", "E": None}
    assert report.cells.loc["A", ["name", "mrr", "health"]].tolist() == ["Acme", 150.0, 30.0]
    assert cell_views(report.summary) == [
        CellView("revenue_at_risk", "Retention", 2, 230.0),
        CellView("champions", "Champions", 1, 200.0),
        CellView("watch", "Watch", 0, 0.0),
        CellView("expansion", "Expansion", 1, 50.0),
    ]


def test_segments_report_with_configured_split(session_factory) -> None:
    with session_factory() as session:
        seed(session)
        cfg = config_from_dict({"segments": {"mrr_split_amount": 150, "health_split": 65}})
        report = segments_report(session, "default", AS_OF, cfg)
    assert (report.mrr_split, report.split_is_median) == (150.0, False)
    assert report.cells["cell"].to_dict() == {"A": "revenue_at_risk", "B": "champions", "C": "expansion",
                                              "D": "watch", "E": None}


def test_segments_command_grid_and_cell_list(session_factory) -> None:
    with session_factory() as session:
        seed(session)
    obj = {"session_factory": session_factory, "config": Config()}
    grid = CliRunner().invoke(cli, ["segments", "--as-of", "2026-03-31"], obj=obj)
    assert grid.exit_code == 0, grid.output
    assert grid.output.splitlines() == [
        "Revenue × Health as of 2026-03-31; MRR split at $80 (median of paying orgs)",
        "          health < 60              health ≥ 60",
        "MRR high  Retention: 2 orgs, $230  Champions: 1 org, $200",
        "MRR low   Watch: 0 orgs, $0        Expansion: 1 org, $50",
        "1 org paying but with no health score yet (run a scan): in no cell.",
    ]
    cell = CliRunner().invoke(cli, ["segments", "--as-of", "2026-03-31", "--cell", "revenue_at_risk"], obj=obj)
    assert cell.exit_code == 0, cell.output
    assert [line.split() for line in cell.output.splitlines()] == [
        "Retention: 2 orgs, $230 MRR (as of 2026-03-31)".split(),
        ["org", "id", "MRR", "health"],
        ["Acme", "A", "$150", "30"],
        ["Delta", "D", "$80", "20"],
    ]
    bad = CliRunner().invoke(cli, ["segments", "--cell", "stars"], obj=obj)
    assert bad.exit_code == 2 and "stars" in bad.output
