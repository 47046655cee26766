"""The direction of imports between the project's packages, checked from the source.

Kept beside the tests (not in the product): it reads every module with ``ast``, so it sees
imports inside functions too, and it never imports the code it checks.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

# Who may import whom. Bottom: the vocabulary and configuration. Above: pure scoring and
# all SQL, side by side and unaware of each other. Above them: the use cases. On top: the
# Slack app and the command line (demo data is a tool that only knows the vocabulary).
ALLOWED: dict[str, frozenset[str]] = {
    "domain": frozenset(),
    "scoring": frozenset({"domain"}),
    "storage": frozenset({"domain"}),
    "demo": frozenset({"domain"}),
    "services": frozenset({"domain", "scoring", "storage"}),
    "bot": frozenset({"domain", "services"}),
    "cli": frozenset({"domain", "scoring", "storage", "services", "bot", "demo"}),
}
PACKAGES = frozenset(ALLOWED)

# Libraries a package must not use at all, whatever its place.
FORBIDDEN_LIBRARIES: dict[str, frozenset[str]] = {
    "domain": frozenset({"pandas", "numpy", "sqlalchemy", "slack_sdk", "slack_bolt"}),  # cheap to import
    "scoring": frozenset({"sqlalchemy", "slack_sdk", "slack_bolt", "jinja2"}),  # frames in, results out
    "storage": frozenset({"slack_sdk", "slack_bolt", "jinja2"}),
    "services": frozenset({"slack_sdk", "slack_bolt", "jinja2"}),  # Slack only through services.ports
    "bot": frozenset({"sqlalchemy"}),  # the Slack app never touches the database
}

# Modules a package must not import even though their package is allowed.
FORBIDDEN_MODULES: dict[str, frozenset[str]] = {
    "scoring": frozenset({"domain.formatting"}),  # results are numbers; words and money are shown above
    # SQL lives in storage/: the use cases hold a Session (sqlalchemy.orm) and call storage's
    # query functions, never build statements (select, func, update … come from sqlalchemy).
    "services": frozenset({"sqlalchemy", "sqlalchemy.sql"}),
}


@dataclass(frozen=True, order=True)
class Violation:
    path: str
    line: int
    importer: str
    imported: str
    why: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.importer} imports {self.imported} ({self.why})"


def _imports(tree: ast.AST, module: str) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in the tree, relative ones resolved."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")[: -node.level]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            found.append((node.lineno, name))
    return found


def check_tree(root: Path) -> list[Violation]:
    """Every import under ``root`` that breaks ALLOWED or FORBIDDEN_LIBRARIES."""
    violations: list[Violation] = []
    for package in sorted(PACKAGES):
        for path in sorted((root / package).rglob("*.py")):
            rel = path.relative_to(root)
            module = ".".join(rel.with_suffix("").parts)
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(rel))
            for line, name in _imports(tree, module):
                top = name.split(".")[0]
                if top in PACKAGES and top != package and top not in ALLOWED[package]:
                    violations.append(Violation(str(rel), line, package, name, "imports upward or sideways"))
                elif name in FORBIDDEN_MODULES.get(package, ()):
                    violations.append(Violation(str(rel), line, package, name, f"{package}/ must not use {name}"))
                elif top in FORBIDDEN_LIBRARIES.get(package, ()):
                    violations.append(Violation(str(rel), line, package, name, f"{package}/ must not use {top}"))
    return sorted(violations)
