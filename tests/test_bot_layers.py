"""The Slack app explains itself in its own words (that bot/ reaches the database only
through services.tracker.Tracker is tests/test_layers.py's job)."""

from __future__ import annotations

import ast
from pathlib import Path

BOT = Path(__file__).resolve().parent.parent / "bot"
FORBIDDEN = ("storage", "sqlalchemy")


def _imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.append(node.module)
    return names


def test_bot_docstrings_point_at_nothing_outside_the_repository() -> None:
    for path in BOT.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for outside in ("SPEC", "/work/", "shared/"):
            assert outside not in text, (path, outside)
