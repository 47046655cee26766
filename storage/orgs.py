"""Reads of the orgs table that the read side needs beside the scan's results."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import Org


def distinct_owners(session: Session, application_id: int) -> list[str]:
    """Every owner value (CSM e-mail or Slack id) set on an org of the application."""
    return list(session.scalars(
        select(Org.owner).where(Org.application_id == application_id, Org.owner.is_not(None)).distinct()
    ))
