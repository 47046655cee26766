"""What went wrong, in one line a person can act on, instead of a traceback.

The command line meets databases that are missing, unreachable, misspelt or empty, and a
terminal that stops reading (``| head``). Each known failure gets one sentence naming what
to do; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import sys


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def explain(exc: BaseException) -> str | None:
    """One line for a failure people cause (a URL, a server, a schema), None for a bug."""
    if "sqlalchemy" not in sys.modules:
        return None
    from sqlalchemy import exc as sa

    message = _first_line(exc)
    if isinstance(exc, sa.NoSuchModuleError):
        driver = message.rsplit(":", 1)[-1].strip() or "?"
        return (f"DATABASE_URL names an unknown database driver ({driver}): use sqlite:///PATH or "
                "postgresql+psycopg://USER@HOST/DB")
    if isinstance(exc, sa.ArgumentError):
        return f"DATABASE_URL is not a database URL ({message}): use sqlite:///PATH or postgresql+psycopg://USER@HOST/DB"
    if isinstance(exc, (sa.OperationalError, sa.ProgrammingError)):
        lowered = message.lower()
        if "no such table" in lowered or "does not exist" in lowered and "relation" in lowered:
            return "the database has no SaaS Tracker schema: run `saas-tracker db upgrade` first"
        if "connect" in lowered or "could not translate host" in lowered or "timeout" in lowered:
            return f"cannot reach the database: {message}"
        return f"cannot use the database: {message}"
    if isinstance(exc, sa.InterfaceError):
        return f"cannot reach the database: {message}"
    return None
