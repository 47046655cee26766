"""What a person can change: dismiss, snooze, un-snooze, tag a case, add a note, assign the
owner. Each change is audited.

Both the terminal and Slack buttons come through here. Every function is idempotent: a
double click, or a click on an item that changed meanwhile, changes nothing and says why in
``ActionResult.message`` — the caller shows that message instead of failing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from domain.vocabulary import (
    CASE_TYPES,
    SIGNAL_LABELS,
    STATUS_ACTIVE,
    STATUS_DISMISSED,
    STATUS_RESOLVED,
    STATUS_SNOOZED,
)
from storage import case_tags, notes, owners, signal_ranking, signals
from storage.models import Signal


@dataclass
class ActionResult:
    changed: bool
    message: str
    org_id: str | None = None
    signal_ids: list[int] = field(default_factory=list)


def _audit(session: Session, actor: str, action: str, org_id: str | None, signal_id: int | None,
           before: dict | None, after: dict | None, via: str, now: dt.datetime) -> None:
    case_tags.add_audit(session, actor=actor, action=action, org_id=org_id, signal_id=signal_id,
                        before=before, after=after, via=via, now=now)


def _state(sig: Signal) -> dict:
    return {
        "status": sig.status,
        "snoozed_until": sig.snoozed_until.isoformat() if sig.snoozed_until else None,
    }


def _store_place(session: Session, sigs: list[Signal]) -> None:
    """The changed orgs' place in the lists, stored with the change (``storage.signal_ranking``)."""
    session.flush()
    for application_id in {sig.application_id for sig in sigs}:
        signal_ranking.store_ranks(session, application_id,
                                   [sig.org_id for sig in sigs if sig.application_id == application_id])


def dismiss_signals(session: Session, signal_ids: list[int], actor: str, now: dt.datetime,
                    snooze_until: dt.datetime | None = None, via: str = "cli") -> ActionResult:
    """Dismiss (or snooze until a date) the given signals; closed or already hidden ones are skipped.

    Rows are locked (SELECT ... FOR UPDATE on PostgreSQL) so two clicks racing each other
    change things once.
    """
    sigs = signals.lock_signals(session, signal_ids)
    if not sigs:
        return ActionResult(False, "That signal no longer exists (the org may have been deleted).")
    target = STATUS_SNOOZED if snooze_until else STATUS_DISMISSED
    changed: list[int] = []
    skipped: list[str] = []
    for sig in sigs:  # the few signals of one org
        label = SIGNAL_LABELS.get(sig.type, sig.type)
        if sig.status == STATUS_RESOLVED:
            skipped.append(f"{label} already resolved itself")
            continue
        if sig.status == STATUS_DISMISSED:
            skipped.append(f"{label} was already dismissed by {sig.dismissed_by or 'someone'}")
            continue
        if sig.status == STATUS_SNOOZED and target == STATUS_SNOOZED and sig.snoozed_until and sig.snoozed_until > now:
            # A second snooze click (or someone else's) while one runs changes nothing.
            skipped.append(f"{label} is already snoozed until {sig.snoozed_until:%Y-%m-%d} "
                           f"by {sig.dismissed_by or 'someone'}")
            continue
        before = _state(sig)
        sig.status = target
        sig.dismissed_by = actor
        sig.dismissed_at = now
        sig.snoozed_until = snooze_until
        action = "snooze" if snooze_until else "dismiss"
        _audit(session, actor, action, sig.org_id, sig.id, before, _state(sig), via, now)
        changed.append(sig.id)
    org_id = sigs[0].org_id
    if not changed:
        return ActionResult(False, "Nothing changed: " + "; ".join(skipped) + ".", org_id, [])
    _store_place(session, sigs)
    verb = f"snoozed until {snooze_until:%Y-%m-%d}" if snooze_until else "dismissed"
    return ActionResult(True, f"{len(changed)} signal(s) {verb}.", org_id, changed)


def unsnooze_signals(session: Session, signal_ids: list[int], actor: str, now: dt.datetime,
                     via: str = "cli") -> ActionResult:
    sigs = signals.lock_signals(session, signal_ids)
    changed = []
    for sig in sigs:
        if sig.status in (STATUS_SNOOZED, STATUS_DISMISSED):
            before = _state(sig)
            sig.status = STATUS_ACTIVE
            sig.snoozed_until = None
            _audit(session, actor, "restore", sig.org_id, sig.id, before, _state(sig), via, now)
            changed.append(sig.id)
    if not changed:
        return ActionResult(False, "Nothing changed: no dismissed or snoozed signal among those.")
    _store_place(session, sigs)
    return ActionResult(True, f"{len(changed)} signal(s) active again.", sigs[0].org_id, changed)


def tag_case(session: Session, org_id: str, case_type: str, actor: str, now: dt.datetime,
             via: str = "cli") -> ActionResult:
    """Set a person's case type on an org; the same tag again changes nothing."""
    if case_type not in CASE_TYPES:
        return ActionResult(False, f"Unknown case type {case_type!r}: use one of {', '.join(CASE_TYPES)}.")
    if not case_tags.org_exists(session, org_id):
        return ActionResult(False, "That org no longer exists.")
    tag = case_tags.lock_tag(session, org_id)
    if tag is None:
        # Two first clicks racing: the loser's insert fails on the primary key inside a
        # savepoint, and it carries on as an update of the winner's row.
        if case_tags.insert_tag(session, org_id, case_type, actor, now):
            _audit(session, actor, "tag", org_id, None, None, {"case_type": case_type, "tagged_by": actor}, via, now)
            return ActionResult(True, f"Tagged {case_type}.", org_id)
        tag = case_tags.lock_tag(session, org_id, refresh=True)
        assert tag is not None, "the insert that beat ours is committed or locked by now"
    if tag.case_type == case_type:
        return ActionResult(False, f"Already tagged {case_type} by {tag.tagged_by}.", org_id)
    before = {"case_type": tag.case_type, "tagged_by": tag.tagged_by}
    tag.case_type, tag.tagged_by, tag.tagged_at = case_type, actor, now
    _audit(session, actor, "tag", org_id, None, before, {"case_type": case_type, "tagged_by": actor}, via, now)
    return ActionResult(True, f"Tagged {case_type}.", org_id)


def open_signal_ids(session: Session, org_id: str, types: list[str] | None = None) -> list[int]:
    """Ids of an org's signals that are still open (what a Dismiss on the org acts on)."""
    return signals.open_signal_ids(session, org_id, types)


def signal_ids_of_org(session: Session, org_id: str, signal_ids: list[int] | tuple[int, ...]) -> list[int]:
    """The given ids that belong to the org, whatever their status."""
    return signals.ids_of_org(session, org_id, signal_ids)


# Longest owner value: what orgs.owner and org_owners.owner hold.
OWNER_MAX = 320
# Longest note kept (Slack's multi-line input allows 3,000 characters; the CLI the same).
NOTE_MAX = 3000


def add_note(session: Session, org_id: str, text: str, actor: str, now: dt.datetime,
             via: str = "cli") -> ActionResult:
    """Store a note on an org with its author and time, and audit it (a note is a review)."""
    text = (text or "").strip()
    if not text:
        return ActionResult(False, "A note needs some text.", org_id)
    if len(text) > NOTE_MAX:
        return ActionResult(False, f"A note holds at most {NOTE_MAX:,} characters ({len(text):,} given).", org_id)
    if not case_tags.org_exists(session, org_id):
        return ActionResult(False, "That org no longer exists.")
    note = notes.add_note(session, org_id, actor, text, now, via)
    _audit(session, actor, "note", org_id, None, None, {"note_id": note.id, "text": _excerpt(text)}, via, now)
    return ActionResult(True, "Note added.", org_id)


def _excerpt(text: str, limit: int = 200) -> str:
    one = " ".join(text.split())
    return one if len(one) <= limit else one[: limit - 1] + "…"


def assign_owner(session: Session, org_id: str, owner: str | None, actor: str, now: dt.datetime,
                 via: str = "cli") -> ActionResult:
    """Make `owner` (a Slack user id or an e-mail) the org's owning CSM, over the imported
    owner; `owner=None` removes the assignment, giving the org back to the imported owner.
    The same assignment again changes nothing. Audited with the owner before and after."""
    owner = (owner or "").strip() or None
    if owner is not None and len(owner) > OWNER_MAX:
        return ActionResult(False, f"An owner is at most {OWNER_MAX} characters.", org_id)
    if not case_tags.org_exists(session, org_id):
        return ActionResult(False, "That org no longer exists.")
    imported = owners.imported_owner(session, org_id)
    current = owners.assignment(session, org_id, lock=True)
    if current is None and owner is not None:
        # Two first assignments racing: the loser carries on as an update of the winner's row.
        if owners.insert_assignment(session, org_id, owner, actor, now):
            _audit(session, actor, "assign", org_id, None, {"owner": imported, "source": "import"},
                   {"owner": owner, "source": "assigned"}, via, now)
            return ActionResult(True, f"Assigned to {owner}.", org_id)
        current = owners.assignment(session, org_id, lock=True, refresh=True)
        assert current is not None, "the insert that beat ours is committed or locked by now"
    if current is None:
        return ActionResult(False, f"Nothing changed: {org_id} has no assigned owner "
                                   f"(its imported owner is {imported or 'nobody'}).", org_id)
    if owner == current.owner:
        return ActionResult(False, f"Already assigned to {owner} by {current.assigned_by}.", org_id)
    before = {"owner": current.owner, "source": "assigned", "assigned_by": current.assigned_by}
    if owner is None:
        session.delete(current)
        _audit(session, actor, "assign", org_id, None, before, {"owner": imported, "source": "import"}, via, now)
        return ActionResult(True, f"Assignment removed: the imported owner ({imported or 'nobody'}) owns it again.",
                            org_id)
    current.owner, current.assigned_by, current.assigned_at = owner, actor, now
    _audit(session, actor, "assign", org_id, None, before, {"owner": owner, "source": "assigned"}, via, now)
    return ActionResult(True, f"Assigned to {owner}.", org_id)
