"""An org's trajectory: weekly health beside weekly usage, and why the score last moved.

* ``health_weeks`` buckets the daily snapshots into the same 12 seven-day weeks as the usage
  sparkline (``storage.queries.weekly_usage``): each week shows the score of its latest
  snapshot, or nothing when no scan ran that week (a gap, never an invented score).
* ``health_move`` compares the configuration of the two scans behind "what moved": the same
  configuration means the data moved the score; a change of a setting the health score reads
  (``scan.*``, ``health.*``) with the same raw inputs means the configuration did; both
  changed means both. When only health weights changed, the previous scan's component scores
  re-weighted with the new weights say how many points the configuration accounts for.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from domain.vocabulary import HEALTH_COMPONENTS
from services.config_history import changes_between
from services.read_models import HealthMove
from storage import config_versions, snapshots
from storage.models import HealthSnapshot

WEEKS = 12
CHANGES_SHOWN = 5
WEIGHT_KEY = "health.weights."


def week_ends(end_day: dt.date, weeks: int = WEEKS) -> tuple[dt.date, ...]:
    """The last day of each of the `weeks` seven-day weeks ending at `end_day`, oldest first."""
    return tuple(end_day - dt.timedelta(days=7 * (weeks - 1 - i)) for i in range(weeks))


def health_weeks(session: Session, org_id: str, end_day: dt.date,
                 weeks: int = WEEKS) -> tuple[tuple[dt.date, ...], tuple[float | None, ...]]:
    """(week ends, health at the end of each week) over the `weeks` weeks ending at `end_day`."""
    ends = week_ends(end_day, weeks)
    start = ends[0] - dt.timedelta(days=6)
    scores: list[float | None] = [None] * weeks
    for day, score in snapshots.scores_between(session, org_id, start, end_day):  # oldest first: last wins
        scores[(day - start).days // 7] = None if score is None else float(score)
    return ends, tuple(scores)


def _inputs(snap: HealthSnapshot) -> tuple[Any, ...]:
    comps = snap.components or {}
    return tuple((comps.get(c) or {}).get("value") for c in HEALTH_COMPONENTS) + (tuple(sorted(snap.left_out or [])),)


def rescore(components: dict[str, Any], weights: dict[str, float]) -> float | None:
    """The health score of these component scores under other weights (left-out components
    stay out and the others are re-normalised, as the scan does)."""
    scores = {c: (components.get(c) or {}).get("score") for c in HEALTH_COMPONENTS}
    used = {c: float(s) for c, s in scores.items() if s is not None and float(weights.get(c, 0.0)) > 0}
    total = sum(float(weights[c]) for c in used)
    if not used or total <= 0:
        return None
    return sum(s * float(weights[c]) for c, s in used.items()) / total


def health_move(session: Session, latest: HealthSnapshot | None, previous: HealthSnapshot | None) -> HealthMove | None:
    """Why the score moved from `previous` to `latest`; None when either is missing or a scan
    did not record its configuration (scans before this was kept)."""
    if latest is None or previous is None:
        return None
    configs = config_versions.settings_of_snapshots(session, [latest.id, previous.id])
    new, old = configs.get(latest.id), configs.get(previous.id)
    if new is None or old is None:
        return None
    if new.id == old.id:
        return HealthMove("data")
    changes = [c for c in changes_between(old.settings, new.settings) if c.moves_health]
    if not changes:
        return HealthMove("data")
    cause = "configuration" if _inputs(latest) == _inputs(previous) else "data and configuration"
    points = None
    if previous.score is not None and all(c.key.startswith(WEIGHT_KEY) for c in changes):
        rescored = rescore(previous.components or {}, (new.settings.get("health") or {}).get("weights") or {})
        if rescored is not None:
            points = round(rescored - float(previous.score), 1)
    return HealthMove(cause, tuple(c.text for c in changes[:CHANGES_SHOWN]), new.recorded_by, new.recorded_at, points)
