"""Review cadence by tier, and the monthly tier moves (docs/segments.md, *Review cadence*).

Each tier has a review interval (``[review]``: Tier 1 weekly … Tier 4 quarterly). A note or
a case tag on an org is a review; an account whose last review is older than its tier's
interval — or that was never reviewed — is *due*. Only paying orgs are accounts here: a free
org in Tier 4 is not on anyone's review list.

Once a month (the first digest of the month) the digest also lists the orgs whose tier
changed since the same day of the previous month, each with the inputs that moved most.
The month-old tiers are worked out from what is stored now: that day's health snapshots and
subscriptions, today's org attributes and open signals.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import pandas as pd
from sqlalchemy.orm import Session

from domain.config import Config
from domain.values import as_float, none_if_missing
from scoring.tiers import INPUTS
from services.read_models import ReviewDue, ReviewStatus, TierMove
from services.segmentation import Segmentation, segmentation_for_day
from storage import notes, owners

INPUT_LABELS = {
    "revenue": "revenue", "tenure": "tenure", "engagement": "engagement", "strategic": "strategic",
    "expansion": "expansion signals", "fit": "fit", "relationship": "relationship", "timing": "timing",
}
WHY_SHOWN = 3
# The first digest of a month is the one scheduled on one of its first seven days.
MONTHLY_DAYS = 7


def _status(tier: str, last: dt.datetime | None, now: dt.datetime, cfg: Config) -> ReviewStatus | None:
    interval = cfg.review.interval_days(tier)
    if interval is None:
        return None
    if last is None:
        return ReviewStatus(tier, interval, None, None, True)
    due_on = (last + dt.timedelta(days=interval)).date()
    return ReviewStatus(tier, interval, last, due_on, now >= last + dt.timedelta(days=interval))


def review_status(session: Session, application_id: int, org_id: str, tier: str | None, now: dt.datetime,
                  cfg: Config) -> ReviewStatus | None:
    """The org's review cadence (None without a tier)."""
    if not tier:
        return None
    return _status(tier, notes.last_reviews(session, application_id, [org_id]).get(org_id), now, cfg)


def reviews_due(session: Session, application_id: int, seg: Segmentation, now: dt.datetime,
                cfg: Config) -> tuple[list[ReviewDue], int]:
    """Paying accounts whose review is due, most urgent first (by tier, never reviewed first,
    then longest overdue, then MRR), cut to ``review.digest_due_shown``; and how many in all."""
    tiers = seg.tiers
    paying = seg.orgs.index[seg.orgs["mrr"] > 0]
    last = notes.last_reviews(session, application_id)
    mrr_of = seg.orgs["mrr"].astype(float)
    due: list[ReviewDue] = []
    for org_id in paying.intersection(tiers.index):  # the paying accounts of one application
        tier = none_if_missing(tiers.at[org_id, "tier"])
        status = _status(tier, last.get(org_id), now, cfg) if tier else None
        if status is None or not status.due:
            continue
        overdue = None if status.due_on is None else (now.date() - status.due_on).days
        due.append(ReviewDue(org_id=str(org_id), name=str(seg.orgs.at[org_id, "name"]), tier=tier,
                             interval_days=status.interval_days, mrr=float(mrr_of[org_id]),
                             owner=None, last_review=status.last_review, overdue_days=overdue))
    due.sort(key=lambda d: (d.tier, d.last_review is not None, -(d.overdue_days or 0), -d.mrr, d.org_id))
    shown = due[: cfg.review.digest_due_shown]
    owner_of = owners.effective_owners(session, application_id, [d.org_id for d in shown]) if shown else {}
    shown = [dataclasses.replace(d, owner=owner_of.get(d.org_id)) for d in shown]
    return shown, len(due)


def is_monthly_digest(day: dt.date) -> bool:
    return day.day <= MONTHLY_DAYS


def month_before(day: dt.date) -> dt.date:
    """The same day of the previous month (its last day when that month is shorter)."""
    first = day.replace(day=1)
    previous_last = first - dt.timedelta(days=1)
    return previous_last.replace(day=min(day.day, previous_last.day))


def _why(then: pd.Series | None, now: pd.Series, cfg: Config) -> tuple[str, ...]:
    """The inputs that moved most, by weight × change of score (an input without data counts
    as 0 there): "revenue 0 → 100", "engagement – → 35"."""
    if then is None:
        return ("no tier a month ago",)
    weights = {**cfg.tiers.value_weights, **cfg.tiers.potential_weights}
    moves = []
    for name in INPUTS:
        a, b = as_float(then.get(f"{name}_score")), as_float(now.get(f"{name}_score"))
        if a is None and b is None:
            continue
        change = abs((b or 0.0) - (a or 0.0))
        if a is not None and b is not None and change < 1:
            continue
        text = f"{INPUT_LABELS[name]} {'–' if a is None else f'{a:.0f}'} → {'–' if b is None else f'{b:.0f}'}"
        moves.append((float(weights.get(name, 0.0)) * change, text))
    moves.sort(key=lambda m: -m[0])
    return tuple(text for _, text in moves[:WHY_SHOWN])


def tier_moves(session: Session, application_id: int, seg: Segmentation, day: dt.date,
               cfg: Config) -> tuple[list[TierMove], int, dt.date]:
    """Orgs whose tier differs from a month before `day`, biggest priority change first, cut
    to ``review.digest_tier_moves_shown``; how many moved in all; and that earlier day."""
    since = month_before(day)
    then = segmentation_for_day(session, application_id, since, cfg).tiers
    now = seg.tiers
    moves: list[tuple[float, TierMove]] = []
    for org_id in now.index:  # every org of one application, once a month
        after = none_if_missing(now.at[org_id, "tier"])
        before_row = then.loc[org_id] if org_id in then.index else None
        before = none_if_missing(before_row["tier"]) if before_row is not None else None
        if after is None or before == after:
            continue
        p_before = as_float(before_row["account_priority"]) if before_row is not None else None
        p_after = as_float(now.at[org_id, "account_priority"])
        moves.append((abs((p_after or 0.0) - (p_before or 0.0)), TierMove(
            org_id=str(org_id), name=str(now.at[org_id, "name"]), before=before, after=after,
            priority_before=p_before, priority_after=p_after,
            why=_why(before_row if before is not None else None, now.loc[org_id], cfg))))
    moves.sort(key=lambda m: (-m[0], m[1].org_id))
    return [m for _, m in moves[: cfg.review.digest_tier_moves_shown]], len(moves), since
