"""An installed saas-tracker works outside the source tree: the wheel carries every package
and the message templates, and `digest --dry-run` renders from it.

The wheel is built without dependencies and installed into a directory of its own, which is
put first on the path of a process started in a directory outside the repository; the
dependencies (Bolt, SQLAlchemy, pandas…) come from the test environment.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from demo_db import build_demo_db

pytestmark = pytest.mark.slow  # builds a wheel and a demo database

ROOT = Path(__file__).resolve().parent.parent
END = dt.date(2026, 11, 20)
AS_OF = dt.datetime(2026, 11, 20, 23, 59, tzinfo=dt.timezone.utc)
PACKAGES = ("domain", "scoring", "storage", "services", "bot", "cli", "demo", "templates")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # Built from a copy: setuptools writes build/ and egg-info beside the sources it builds.
    source = out / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "*.egg-info", "__pycache__", ".pytest_cache", ".hypothesis", "demo-data",
        "*.db", "out"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet",
                    "-w", str(out), str(source)], check=True, cwd=out, capture_output=True)
    (built,) = out.glob("saas_tracker-*.whl")
    return built


def test_the_wheel_carries_every_package_and_the_templates(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    for package in PACKAGES:
        assert f"{package}/__init__.py" in names, package
    templates = {Path(n).name for n in names if n.startswith("templates/") and n.endswith(".j2")}
    assert templates == {p.name for p in (ROOT / "templates").glob("*.j2")}
    assert not any(n.startswith("tests/") for n in names)


def test_an_installed_copy_renders_the_digest_from_outside_the_repository(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--target", str(site),
                    str(wheel)], check=True, capture_output=True)
    url, engine = build_demo_db(tmp_path / "demo", orgs=40, days=60, end=END, as_of=AS_OF)
    engine.dispose()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site), "DATABASE_URL": url}
    code = "import sys, cli; sys.argv[0] = 'saas-tracker'; cli.main()"
    done = subprocess.run([sys.executable, "-c", code, "digest", "--dry-run", "--text", "--as-of",
                           "2026-11-23T09:00:00Z"], cwd=elsewhere, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "Weekly digest 2026-W48" in done.stdout
    assert "Revenue x Health" in done.stdout
    # The code ran from the installed copy, not the checkout.
    where = subprocess.run([sys.executable, "-c", "import bot.templates as t; print(t.TEMPLATES_DIR)"],
                           cwd=elsewhere, env=env, capture_output=True, text=True, check=True).stdout.strip()
    assert Path(where).is_relative_to(site)
