"""Imports run one way: domain ← scoring, storage ← services ← bot, cli (tests/layering.py).

The first test holds the real tree to the rule; the others show the check catches an
upward import, a sideways one and a forbidden library, on a small tree made for them.
"""

from __future__ import annotations

from pathlib import Path

from layering import ALLOWED, check_tree

ROOT = Path(__file__).resolve().parent.parent


# Edges the restructuring has not removed yet, each listed so that no new one can appear
# unnoticed and each removal is checked off here.
NOT_YET_REMOVED: set[tuple[str, str]] = set()


def test_the_project_imports_only_downward() -> None:
    violations = check_tree(ROOT)
    new = [v for v in violations if (v.path, v.imported) not in NOT_YET_REMOVED]
    assert not new, "imports that break the layering:\n" + "\n".join(map(str, new))
    gone = NOT_YET_REMOVED - {(v.path, v.imported) for v in violations}
    assert not gone, f"no longer imported, take them off NOT_YET_REMOVED: {sorted(gone)}"


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for package in ALLOWED:
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    for rel, source in files.items():
        (tmp_path / rel).write_text(source)
    return tmp_path


def test_an_upward_import_is_reported_with_file_and_line(tmp_path: Path) -> None:
    root = _tree(tmp_path, {
        "scoring/health.py": "import math\n\n\ndef score():\n    from services.scanning import run_scan\n",
        "services/scanning.py": "from scoring.health import score\nfrom storage import queries\n",
    })
    (v,) = check_tree(root)
    assert (v.path, v.line, v.importer, v.imported) == ("scoring/health.py", 5, "scoring", "services.scanning")


def test_scoring_and_storage_stay_unaware_of_each_other(tmp_path: Path) -> None:
    root = _tree(tmp_path, {"storage/queries.py": "from scoring.frames import ORG_COLUMNS\n"})
    assert [(v.importer, v.imported) for v in check_tree(root)] == [("storage", "scoring.frames")]


def test_the_slack_app_never_touches_the_database(tmp_path: Path) -> None:
    root = _tree(tmp_path, {
        "bot/handlers.py": "from sqlalchemy import select\nfrom storage.models import Org\nfrom services import x\n",
    })
    assert [(v.line, v.imported) for v in check_tree(root)] == [(1, "sqlalchemy"), (2, "storage.models")]


def test_relative_imports_are_resolved_before_checking(tmp_path: Path) -> None:
    root = _tree(tmp_path, {"domain/config.py": "from ..services import tracker\n"})
    assert [v.imported for v in check_tree(root)] == ["services"]
