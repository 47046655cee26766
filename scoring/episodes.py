"""Signal episodes (open, update, dismiss, resolve), planned without touching storage.

At most one signal per (org, type) is open. Each scan compares what is open with what holds
now and plans three changes; the caller applies them in one transaction.

Interface
---------
``plan_episodes(open_signals, current, now) -> EpisodePlan``

* ``open_signals``: the stored signals that are not resolved; columns ``id``, ``org_id``,
  ``type``, ``status`` (``active`` | ``dismissed`` | ``snoozed``) and ``snoozed_until``
  (tz-aware, NaT when not snoozed). Two open signals for one (org, type) are a broken
  invariant and raise ``ValueError`` rather than being guessed around.
* ``current``: ``scoring.signals.evaluate_signals``' output for this scan.
* ``now``: the scan time (tz-aware; naive means UTC).

``EpisodePlan``:

* ``to_open``: rows of ``current`` with no open signal for their (org, type): new episodes,
  opened ``active`` (and the only ones that may alert). Same columns as ``current``.
* ``to_update``: rows of ``current`` matched to an open signal: ``current``'s columns plus
  ``id`` (the stored signal), ``previous_status``, ``new_status`` and ``snoozed_until``:

  - active → ``active``;
  - dismissed → stays ``dismissed`` (hidden until the condition clears, then resolves);
  - snoozed with ``snoozed_until`` > now → stays ``snoozed`` (``snoozed_until`` kept); a
    snooze without an end date behaves like a dismissal and stays ``snoozed``;
  - snoozed with ``snoozed_until`` <= now → ``active`` again (``snoozed_until`` NaT), without
    a new alert: it is the same episode coming back into view.

  Evidence, reason and priority are refreshed in every case, so a dismissed signal that is
  un-dismissed later shows today's numbers.
* ``to_resolve``: ids (plain ints) of open signals, of any status, whose condition no longer
  holds. A later return of the condition is a fresh episode in ``to_open``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from domain.vocabulary import OPEN_STATUSES, STATUS_ACTIVE, STATUS_DISMISSED, STATUS_SNOOZED

OPEN_SIGNAL_COLUMNS = ["id", "org_id", "type", "status", "snoozed_until"]
_KEY = ["org_id", "type"]


@dataclass(frozen=True)
class EpisodePlan:
    to_open: pd.DataFrame
    to_update: pd.DataFrame
    to_resolve: list[int] = field(default_factory=list)


def _utc(moment: dt.datetime) -> pd.Timestamp:
    ts = pd.Timestamp(moment)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _check_open(open_signals: pd.DataFrame) -> pd.DataFrame:
    if open_signals.empty and not set(OPEN_SIGNAL_COLUMNS) <= set(open_signals.columns):
        open_signals = pd.DataFrame({c: pd.Series(dtype=object) for c in OPEN_SIGNAL_COLUMNS})
    missing = [c for c in OPEN_SIGNAL_COLUMNS if c not in open_signals.columns]
    if missing:
        raise ValueError(f"open signals are missing column(s): {', '.join(missing)}")
    bad = sorted(set(open_signals["status"].dropna()) - set(OPEN_STATUSES) | (
        {"<missing>"} if open_signals["status"].isna().any() else set()
    ))
    if bad:
        raise ValueError(f"open signals hold status {bad[0]!r}; expected one of {', '.join(OPEN_STATUSES)}")
    dupes = open_signals.duplicated(_KEY, keep=False)
    if dupes.any():
        org, kind = open_signals.loc[dupes, _KEY].iloc[0]
        raise ValueError(f"more than one open {kind} signal for org {org!r}")
    frame = open_signals[OPEN_SIGNAL_COLUMNS].rename(columns={"status": "previous_status"})
    return frame.assign(snoozed_until=pd.to_datetime(frame["snoozed_until"], utc=True))


def plan_episodes(open_signals: pd.DataFrame, current: pd.DataFrame, now: dt.datetime) -> EpisodePlan:
    """Match this scan's conditions to open episodes: open, update or resolve each."""
    opened = _check_open(open_signals)
    if current.duplicated(_KEY).any():
        raise ValueError("current signals hold more than one row per (org, type)")
    now_ts = _utc(now)

    # Left merges keep `current`'s ranking order in to_open and to_update.
    matched = current.merge(opened, on=_KEY, how="left", indicator="_match")
    is_new = (matched["_match"] == "left_only").to_numpy()
    to_open = matched.loc[is_new, list(current.columns)].reset_index(drop=True)

    upd = matched.loc[~is_new].drop(columns="_match")
    was = upd["previous_status"]
    until = upd["snoozed_until"]
    woke = (was == STATUS_SNOOZED) & until.notna() & (until <= now_ts)
    new_status = np.select(
        [was == STATUS_ACTIVE, was == STATUS_DISMISSED, woke],
        [STATUS_ACTIVE, STATUS_DISMISSED, STATUS_ACTIVE],
        default=STATUS_SNOOZED,
    )
    upd = upd.assign(
        id=upd["id"].astype("int64"),
        new_status=pd.Series(new_status, index=upd.index, dtype="str"),
        snoozed_until=until.where(new_status == STATUS_SNOOZED),
    )
    to_update = upd[[*current.columns, "id", "previous_status", "new_status", "snoozed_until"]].reset_index(drop=True)

    still = opened.merge(current[_KEY], on=_KEY, how="left", indicator="_match")
    to_resolve = sorted(int(i) for i in still.loc[still["_match"] == "left_only", "id"].to_numpy())
    return EpisodePlan(to_open=to_open, to_update=to_update, to_resolve=to_resolve)
