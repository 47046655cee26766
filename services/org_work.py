"""What `/org` shows beside the scores: the playbooks, the notes, the owner and where it comes
from, the review cadence, and the 12-week health history with why the score last moved.

``org_detail`` (services.org_details) adds these to the OrgDetail it builds, through
``detail_fields``; each part reads only the one org.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from domain.config import Config
from domain.values import none_if_missing
from services import org_history, reviews
from services.playbooks import playbooks_for
from services.read_models import NoteView, OrgItem, OwnerView
from services.segmentation import Segmentation, StoredSegmentation
from storage import notes, owners
from storage.models import HealthSnapshot, Org

# Notes a page shows, newest first (`saas-tracker notes ORG` lists them all).
NOTES_SHOWN = 5


def owner_view(session: Session, org: Org) -> OwnerView:
    assigned = owners.assignment(session, org.org_id)
    if assigned is not None:
        return OwnerView(assigned.owner, "assigned", org.owner, assigned.assigned_by, assigned.assigned_at)
    return OwnerView(org.owner, "import" if org.owner else None, org.owner)


def note_views(session: Session, org_id: str, limit: int | None = NOTES_SHOWN) -> tuple[list[NoteView], int]:
    found, total = notes.notes_of(session, org_id, limit)
    return [NoteView(n.id, n.author, n.text, n.created_at, n.via) for n in found], total


def detail_fields(session: Session, application_id: int, org: Org, item: OrgItem,
                  seg: Segmentation | StoredSegmentation,
                  latest: HealthSnapshot | None, previous: HealthSnapshot | None, end_day: dt.date,
                  now: dt.datetime, cfg: Config) -> dict[str, Any]:
    """The OrgDetail fields of this module, as keyword arguments."""
    ends, health = org_history.health_weeks(session, org.org_id, end_day)
    shown, total = note_views(session, org.org_id)
    tiers = seg.tier_of(org.org_id)
    tier = none_if_missing(tiers["tier"]) if tiers is not None else None
    return {
        "week_ends": ends,
        "health_weeks": health,
        "health_move": org_history.health_move(session, latest, previous),
        "notes": tuple(shown),
        "notes_total": total,
        "owner": owner_view(session, org),
        "playbooks": playbooks_for(item, cfg),
        "review": reviews.review_status(session, application_id, org.org_id, tier, now, cfg),
    }
