"""The repository explains itself: no tracked text file points at documents that live outside
it (a specification's sections, a shared folder beside the clone) or at how the work on it was
directed. Whatever such a reference meant is said here, in the project's own words."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SUFFIXES = {".py", ".md", ".toml", ".yml", ".j2", ".cfg"}
NAMES = {"Makefile"}
# Written in pieces so that this file does not match itself; matched in any letter case.
FORBIDDEN = ("SPEC" + " §", "SPEC" + ".md", "../" + "shared", "steer" + "ing")


def _tracked_text_files() -> list[Path]:
    if not (REPO / ".git").exists():  # an unpacked sdist or wheel: no list of tracked files
        pytest.skip("not a git checkout (an unpacked sdist or wheel): nothing tracked to scan")
    # In a checkout (CI, a clone) git must answer: a failure here fails the test, never skips it.
    out = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    paths = [REPO / name for name in out.decode().split("\0") if name]
    return [p for p in paths if (p.suffix in SUFFIXES or p.name in NAMES) and p.is_file()]


def _hits(path: Path, root: Path = REPO) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [f"{path.relative_to(root).as_posix()}:{number}: {word!r}"
            for number, line in enumerate(lines, start=1)
            for word in FORBIDDEN if word.lower() in line.lower()]


def test_the_scan_covers_code_docs_templates_and_build_files() -> None:
    names = {p.relative_to(REPO).as_posix() for p in _tracked_text_files()}
    assert {"Makefile", "pyproject.toml", "README.md", "manifest.yml", "domain/config.py",
            "tests/test_self_contained.py"} <= names
    assert any(n.endswith(".j2") for n in names)
    assert not any(n.endswith((".json", ".png", ".csv")) for n in names)


def test_the_scan_names_the_file_line_and_words_it_found(tmp_path: Path) -> None:
    note = tmp_path / "docs" / "note.md"
    note.parent.mkdir()
    note.write_text("fine\nsee " + "spec" + ".md and " + "../" + "shared/x\nfine\n" + "Steer" + "ing\n",
                    encoding="utf-8")
    assert _hits(note, tmp_path) == [f"docs/note.md:2: {FORBIDDEN[1]!r}", f"docs/note.md:2: {FORBIDDEN[2]!r}",
                                     f"docs/note.md:4: {FORBIDDEN[3]!r}"]


def test_no_tracked_text_file_points_outside_the_repository() -> None:
    hits = [hit for path in _tracked_text_files() for hit in _hits(path)]
    assert hits == []
