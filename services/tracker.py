"""The product's use cases for one application, as the Slack app calls them.

Each method opens and closes its own database session, so a caller never holds one while
it talks to Slack (``/signals mine`` looks the person up in Slack *between* two reads), and
the Slack app never imports SQLAlchemy. Reads return the read models of
``services.read_models``; changes return ``services.actions.ActionResult``, whose message
the caller shows instead of failing when nothing changed.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from domain.config import Config
from services import actions, org_details, org_lookup, org_work, segmentation, signal_list
from services.config_history import ConfigHistoryEntry, config_history
from services.read_models import AuditEntry, CellView, NoteView, OrgDetail
from services.revenue import cell_views
from storage import case_tags, db, owners, slack_events, slack_request_keys

CellRow = tuple[str, str, float, float | None, str | None]  # org_id, name, mrr, health, band


class NoData(LookupError):
    """The application has nothing imported yet."""


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


# How often (seconds, per process) claiming request keys also forgets keys too old to be
# replayed: often enough to keep the table small, rarely enough to cost nothing per request.
REQUEST_KEY_PRUNE_SECONDS = 60.0


@dataclass
class _Claim:
    key: str
    sent_at: dt.datetime
    first: bool | None = None  # set by whichever thread wrote the batch it was in
    error: BaseException | None = None


class RequestKeyClaims:
    """Claims of Slack request keys from many threads, written together (group commit).

    Every signed request claims its key before it is acknowledged, so a burst of requests is
    a burst of one-row transactions; on SQLite each commit waits for the disk and the others
    wait for its lock, so the last acknowledgement would wait for all of them. Here a thread
    adds its claim to a queue and takes the writer's lock: whoever holds it writes every
    claim queued so far in one transaction, and a thread whose claim was written meanwhile
    just reads its answer. A burst costs a handful of transactions instead of one each.
    """

    def __init__(self, factory: sessionmaker[Session], prune_every: float = REQUEST_KEY_PRUNE_SECONDS) -> None:
        self._factory = factory
        self._prune_every = prune_every
        self._queue: list[_Claim] = []
        self._queue_lock = threading.Lock()
        self._writer = threading.Lock()
        self._next_prune = 0.0  # time.monotonic() after which the next write also prunes

    def claim(self, key: str, sent_at: dt.datetime) -> bool:
        mine = _Claim(key, sent_at)
        with self._queue_lock:
            self._queue.append(mine)
        with self._writer:
            if mine.first is None and mine.error is None:
                with self._queue_lock:
                    batch, self._queue = self._queue, []
                self._write(batch)
        if mine.error is not None:
            raise mine.error
        return bool(mine.first)

    def _write(self, batch: list[_Claim]) -> None:
        prune = time.monotonic() >= self._next_prune
        try:
            with self._factory() as session, session.begin():
                recorded = slack_request_keys.claim_many(session, [(c.key, c.sent_at) for c in batch])
                if prune:
                    newest = max(c.sent_at for c in batch)
                    slack_request_keys.prune(session, newest - slack_request_keys.KEEP)
        except Exception as exc:  # every claim of the batch fails with it, in its own thread
            for claim in batch:
                claim.error = exc
            return
        if prune:
            self._next_prune = time.monotonic() + self._prune_every
        taken: set[str] = set()
        for claim in batch:  # the same key twice in one batch: the first one wins
            claim.first = claim.key in recorded and claim.key not in taken
            taken.add(claim.key)


class Tracker:
    def __init__(self, factory: sessionmaker[Session], cfg: Config,
                 clock: Callable[[], dt.datetime] = utc_now) -> None:
        self.factory = factory
        self.cfg = cfg
        self.clock = clock
        self._request_keys = RequestKeyClaims(factory)

    def now(self) -> dt.datetime:
        return self.clock()

    @contextmanager
    def _read(self) -> Iterator[tuple[Session, int]]:
        with self.factory() as session:
            yield session, self._application_id(session)

    @contextmanager
    def _write(self) -> Iterator[tuple[Session, int]]:
        with self.factory() as session, session.begin():
            yield session, self._application_id(session)

    def _application_id(self, session: Session) -> int:
        app = db.find_application(session, self.cfg.application)
        if app is None:
            raise NoData(f"application {self.cfg.application!r} has no data yet")
        return app.id

    # --- reads --------------------------------------------------------------------------

    def owners(self) -> list[str]:
        """Every owner of an org (assigned, else imported): what "mine" is matched against."""
        with self._read() as (session, app_id):
            return owners.distinct_owners(session, app_id)

    def signals(self, flt: signal_list.SignalFilter, now: dt.datetime) -> signal_list.SignalList:
        with self._read() as (session, app_id):
            return signal_list.list_signals(session, app_id, now, flt, self.cfg)

    def home(self, owners: frozenset[str], top: int, now: dt.datetime) -> tuple[signal_list.SignalList, list[CellView]]:
        """The Home tab: the person's orgs and the Revenue × Health cells, from one cached
        segmentation."""
        with self._read() as (session, app_id):
            seg = segmentation.load_segmentation(session, app_id, now, self.cfg)
            flt = signal_list.SignalFilter(top=top, owners=owners or frozenset({"<nobody>"}))
            listing = signal_list.list_signals(session, app_id, now, flt, self.cfg, segmentation=seg)
            return listing, cell_views(seg.cell_summary())

    def find_orgs(self, query: str) -> org_lookup.LookupResult:
        with self._read() as (session, app_id):
            return org_lookup.find_orgs(session, app_id, query)

    def org_detail(self, org_id: str, now: dt.datetime) -> OrgDetail | None:
        with self._read() as (session, app_id):
            return org_details.org_detail(session, app_id, org_id, now, self.cfg)

    def cell_orgs(self, cell_key: str, now: dt.datetime) -> tuple[CellView, list[CellRow]]:
        """Raises ValueError for a cell key that does not exist."""
        with self._read() as (session, app_id):
            return segmentation.cell_orgs(session, app_id, cell_key, now, self.cfg)

    # --- changes a person makes ---------------------------------------------------------

    def tag_case(self, org_id: str, case_type: str, actor: str, now: dt.datetime,
                 via: str = "slack") -> actions.ActionResult:
        with self._write() as (session, _app_id):
            return actions.tag_case(session, org_id, case_type, actor, now, via=via)

    def dismiss(self, org_id: str, signal_ids: Sequence[int], actor: str, now: dt.datetime,
                snooze_until: dt.datetime | None = None, via: str = "slack") -> actions.ActionResult:
        """Dismiss (or snooze) the given signals of one org: ids that belong to another org
        are ignored, so a crafted click can't reach it."""
        with self._write() as (session, _app_id):
            ids = actions.signal_ids_of_org(session, org_id, list(signal_ids))
            return actions.dismiss_signals(session, ids, actor, now, snooze_until=snooze_until, via=via)

    def dismiss_open(self, org_id: str, types: Sequence[str] | None, actor: str, now: dt.datetime,
                     snooze_until: dt.datetime | None = None, via: str = "cli") -> actions.ActionResult:
        """Dismiss (or snooze) every open signal of the org, or those of the given types."""
        with self._write() as (session, _app_id):
            ids = actions.open_signal_ids(session, org_id, list(types) if types else None)
            if not ids:
                kind = " of that type" if types else ""
                return actions.ActionResult(False, f"{org_id} has no open signal{kind}.", org_id)
            return actions.dismiss_signals(session, ids, actor, now, snooze_until=snooze_until, via=via)

    def restore_open(self, org_id: str, types: Sequence[str] | None, actor: str, now: dt.datetime,
                     via: str = "cli") -> actions.ActionResult:
        """Put an org's dismissed or snoozed open signals (or those of the given types) back on
        the lists: the undo of a dismiss or snooze."""
        with self._write() as (session, _app_id):
            ids = actions.open_signal_ids(session, org_id, list(types) if types else None)
            if not ids:
                kind = " of that type" if types else ""
                return actions.ActionResult(False, f"{org_id} has no open signal{kind}.", org_id)
            return actions.unsnooze_signals(session, ids, actor, now, via=via)

    def add_note(self, org_id: str, text: str, actor: str, now: dt.datetime,
                 via: str = "slack") -> actions.ActionResult:
        with self._write() as (session, _app_id):
            return actions.add_note(session, org_id, text, actor, now, via=via)

    def assign_owner(self, org_id: str, owner: str | None, actor: str, now: dt.datetime,
                     via: str = "slack") -> actions.ActionResult:
        """Assign the org's owning CSM (None: back to the imported owner)."""
        with self._write() as (session, _app_id):
            return actions.assign_owner(session, org_id, owner, actor, now, via=via)

    def notes(self, org_id: str, limit: int | None = None) -> tuple[list[NoteView], int]:
        """The org's notes, newest first, and how many it has."""
        with self._read() as (session, _app_id):
            return org_work.note_views(session, org_id, limit)

    def config_history(self) -> list[ConfigHistoryEntry]:
        """The configurations the scans ran with, in scan order, each with what it changed."""
        with self._read() as (session, app_id):
            return config_history(session, app_id)

    def audit(self, limit: int) -> list[AuditEntry]:
        """The newest changes people made, newest first."""
        with self.factory() as session:
            rows = case_tags.latest_audit(session, limit)
            return [AuditEntry(at=r.at, actor=r.actor, action=r.action, org_id=r.org_id, signal_id=r.signal_id,
                               before=r.before, after=r.after, via=r.via) for r in rows]

    # --- bookkeeping --------------------------------------------------------------------

    def first_time_seen(self, event_id: str, now: dt.datetime) -> bool:
        """False when Slack retries an event this app (any replica) already handled."""
        return slack_events.first_time_seen(self.factory, event_id, now)

    def first_request_seen(self, key: str, sent_at: dt.datetime) -> bool:
        """False when this exact signed Slack request (`key`: the hash of what its signature
        signs) was already taken by this app, on any replica — a replay to refuse.
        `sent_at` is the request's own (verified) timestamp; about once a minute a claim also
        forgets keys too old to pass Slack's timestamp check again. Requests arriving together
        share one transaction (``RequestKeyClaims``)."""
        return self._request_keys.claim(key, sent_at)

    def database_reachable(self) -> bool:
        return db.database_reachable(self.factory)
