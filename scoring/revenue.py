"""Revenue analytics from subscriptions: MRR, ARR, top orgs, MRR movements, NRR and GRR.

Input is one subscriptions frame, one row per subscription, with columns
``subscription_id, org_id, mrr, started_at, ended_at, status`` (``status`` may be absent or
empty: the row is then active). Dates are plain days; ``ended_at`` empty means open-ended.

Rules, every function here uses exactly these:

* **MRR of an org on day d** = sum of ``mrr`` over its subscriptions with
  ``started_at <= d < ended_at``: a subscription pays on its start day and no longer on its
  end day. ``trialing`` subscriptions never count (a trial is not revenue).
* ``canceled`` subscriptions: with no ``ended_at`` one never counts. With an ``ended_at`` it
  counts on the days *before* it, because billing exports mark every ended subscription
  canceled: excluding those rows outright would rewrite history (an org that paid for a
  year and left would never have paid, so churn could never be seen). On and after
  ``ended_at`` nothing counts.
* ARR = 12 × MRR.
* Amounts are summed in whole cents, so totals and the movement identity
  ``starting_mrr + net_new == ending_mrr`` hold to the cent, with no float drift.
* **Periods**: calendar months, or weeks starting Monday (label ``2026-W09``, ISO week).
  A period's *starting MRR* is the MRR at the end of the day before it starts (the previous
  period's ending MRR); its *ending MRR* is the MRR on its last day. So a subscription
  starting on the 1st is new in that month, and one with ``ended_at`` on the 1st churns in
  that month (it last paid on the day before). The first and last periods are cut to the
  requested ``start`` and ``end`` days.
* **Movements** compare each org's MRR at the period's start and end only (a churn and
  return inside one period nets out):
  0 → >0 is *new* when the org never had MRR before the period, else *reactivated*;
  >0 → 0 is *churned*; up is *expansion* (a second subscription too), down is
  *contraction* (losing one of several subscriptions too). A trial converting counts as
  new on the day the paid subscription starts. ``contraction`` and ``churned`` are
  positive amounts of MRR lost; ``net_new = new + expansion + reactivated − contraction −
  churned``.
* **NRR / GRR** over the ``months`` before ``end``: the cohort is the orgs paying on the
  start day; NRR = the cohort's MRR on ``end`` / its MRR on the start day (start +
  expansion − contraction − churn); GRR = the same without expansion, so at most 100 %.
  Orgs that start paying inside the window are not in the cohort. Ratios are fractions
  (1.05 = 105 %), None when nobody paid on the start day.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal, overload

import numpy as np
import pandas as pd

from domain.vocabulary import MRR_EXCLUDED_STATUSES

SUBSCRIPTION_COLUMNS = ("subscription_id", "org_id", "mrr", "started_at", "ended_at", "status")
ARR_MONTHS = 12
# The excluded status whose rows still count before their end date (see module docstring).
_CANCELED = "canceled"

MOVEMENT_COLUMNS = (
    "period",
    "start",
    "end",
    "starting_mrr",
    "new",
    "expansion",
    "contraction",
    "churned",
    "reactivated",
    "net_new",
    "ending_mrr",
)
_MONEY_COLUMNS = MOVEMENT_COLUMNS[3:]

Period = Literal["month", "week"]
_NO_END = np.iinfo(np.int64).max


@dataclass(frozen=True)
class _Prepared:
    """Subscriptions as flat arrays: org position, day numbers, cents; counting rows only."""

    orgs: pd.Index  # every org in the input, sorted
    org_pos: np.ndarray  # per counting row: position in ``orgs``
    start: np.ndarray  # per counting row: day number (days since 1970-01-01)
    end: np.ndarray  # per counting row: day number, _NO_END when open-ended
    cents: np.ndarray  # per counting row: int64 cents


@dataclass(frozen=True)
class Retention:
    """NRR and GRR of the cohort paying on ``start``, measured on ``end``."""

    start: dt.date
    end: dt.date
    starting_mrr: float
    expansion: float
    contraction: float
    churned: float
    ending_mrr: float  # the cohort's MRR on ``end`` (new orgs excluded)
    nrr: float | None
    grr: float | None


def _day_numbers(values: pd.Series) -> np.ndarray:
    """Days since epoch as int64; missing → _NO_END (only ended_at may be missing)."""
    ts = pd.to_datetime(values)
    if getattr(ts.dt, "tz", None) is not None:
        ts = ts.dt.tz_convert("UTC").dt.tz_localize(None)
    days = ts.dt.floor("D").to_numpy(dtype="datetime64[D]")
    out = days.astype(np.int64)
    out[np.isnat(days)] = _NO_END
    return out


def _day_number(day: dt.date | pd.Timestamp) -> int:
    return int(np.datetime64(pd.Timestamp(day).date(), "D").astype(np.int64))


def _from_day_number(n: int) -> dt.date:
    return dt.date(1970, 1, 1) + dt.timedelta(days=int(n))


def _prepare(subs: pd.DataFrame) -> _Prepared:
    missing = [c for c in ("subscription_id", "org_id", "mrr", "started_at") if c not in subs.columns]
    if missing:
        raise ValueError(f"subscriptions frame lacks column(s): {', '.join(missing)}")
    mrr = pd.to_numeric(subs["mrr"], errors="coerce").astype(float)
    bad = mrr.isna() | (mrr < 0)
    if bad.any():
        sid = subs.loc[bad, "subscription_id"].iloc[0]
        raise ValueError(f"subscription {sid}: mrr must be a number >= 0, got {subs.loc[bad, 'mrr'].iloc[0]!r}")
    start = _day_numbers(subs["started_at"])
    if (start == _NO_END).any():
        sid = subs.loc[start == _NO_END, "subscription_id"].iloc[0]
        raise ValueError(f"subscription {sid}: started_at is empty")
    ended = subs["ended_at"] if "ended_at" in subs.columns else pd.Series(pd.NaT, index=subs.index)
    end = _day_numbers(ended)
    if "status" in subs.columns:
        status = subs["status"].fillna("active").astype(str).str.lower().to_numpy()
    else:
        status = np.full(len(subs), "active", dtype=object)
    never = np.isin(status, [s for s in MRR_EXCLUDED_STATUSES if s != _CANCELED])
    canceled_open = (status == _CANCELED) & (end == _NO_END)
    counting = ~never & ~canceled_open & (end > start)

    orgs = pd.Index(pd.unique(subs["org_id"].astype(str))).sort_values()
    pos = orgs.get_indexer(pd.Index(subs["org_id"].astype(str)))
    cents = np.rint(mrr.to_numpy() * 100).astype(np.int64)
    return _Prepared(orgs=orgs, org_pos=pos[counting], start=start[counting], end=end[counting],
                     cents=cents[counting])


def _cents_at(p: _Prepared, days: np.ndarray) -> np.ndarray:
    """Org × day matrix of MRR in cents.

    One vectorized pass over all subscriptions per requested day (a handful of period
    boundaries), so memory stays one column at a time however many subscriptions there are.
    """
    out = np.zeros((len(p.orgs), len(days)), dtype=np.int64)
    for j, day in enumerate(days):
        live = (p.start <= day) & (day < p.end)
        np.add.at(out[:, j], p.org_pos[live], p.cents[live])
    return out


def _first_paid_day(p: _Prepared) -> np.ndarray:
    """Per org, the first day it had MRR (_NO_END when never): tells new from reactivated."""
    first = np.full(len(p.orgs), _NO_END, dtype=np.int64)
    paid = p.cents > 0
    np.minimum.at(first, p.org_pos[paid], p.start[paid])
    return first


def mrr_by_org(subs: pd.DataFrame, on: dt.date) -> pd.Series:
    """MRR per org on day ``on``; every org in ``subs`` is listed, 0.0 when not paying."""
    p = _prepare(subs)
    cents = _cents_at(p, np.array([_day_number(on)], dtype=np.int64))[:, 0]
    return pd.Series(cents / 100.0, index=p.orgs.rename("org_id"), name="mrr")


def total_mrr(subs: pd.DataFrame, on: dt.date) -> float:
    p = _prepare(subs)
    cents = _cents_at(p, np.array([_day_number(on)], dtype=np.int64))
    return int(cents.sum()) / 100.0


@overload
def arr(mrr: float) -> float: ...
@overload
def arr(mrr: pd.Series) -> pd.Series: ...
def arr(mrr: float | pd.Series) -> float | pd.Series:
    """ARR = 12 × MRR."""
    return mrr * ARR_MONTHS


def top_revenue_orgs(subs: pd.DataFrame, org_names: pd.Series, on: dt.date, n: int = 10) -> pd.DataFrame:
    """The ``n`` paying orgs with the most MRR on ``on``, ties broken by name then id.

    ``org_names`` maps org_id → display name (orgs missing from it show their id).
    Columns: rank, org_id, name, mrr, arr, share (fraction of total MRR).
    """
    mrr = mrr_by_org(subs, on)
    paying = mrr[mrr > 0]
    total = float(paying.sum())
    names = pd.Series(org_names, dtype=object)
    names.index = names.index.astype(str)
    frame = pd.DataFrame({"org_id": paying.index.astype(str), "mrr": paying.to_numpy()})
    frame["name"] = frame["org_id"].map(names).fillna(frame["org_id"]).astype(str)
    frame = frame.sort_values(["mrr", "name", "org_id"], ascending=[False, True, True]).head(max(n, 0))
    frame["arr"] = arr(frame["mrr"])
    frame["share"] = frame["mrr"] / total if total else 0.0
    frame.insert(0, "rank", np.arange(1, len(frame) + 1))
    return frame[["rank", "org_id", "name", "mrr", "arr", "share"]].reset_index(drop=True)


def period_start(day: dt.date, by: Period) -> dt.date:
    """First day of the calendar month, or the Monday of the week, holding ``day``."""
    if by == "month":
        return day.replace(day=1)
    if by == "week":
        return day - dt.timedelta(days=day.weekday())
    raise ValueError(f"by must be 'month' or 'week', got {by!r}")


def periods_ending(end: dt.date, by: Period, periods: int) -> tuple[dt.date, dt.date]:
    """(start, end) covering the last ``periods`` whole periods, the last one ending at ``end``."""
    if periods < 1:
        raise ValueError(f"periods must be at least 1, got {periods}")
    first = period_start(end, by)
    if by == "month":
        first = (pd.Timestamp(first) - pd.DateOffset(months=periods - 1)).date()
    else:
        first = first - dt.timedelta(weeks=periods - 1)
    return first, end


def _period_bounds(start: dt.date, end: dt.date, by: Period) -> pd.DataFrame:
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    freq = "M" if by == "month" else "W-SUN" if by == "week" else None
    if freq is None:
        raise ValueError(f"by must be 'month' or 'week', got {by!r}")
    idx = pd.period_range(pd.Timestamp(start), pd.Timestamp(end), freq=freq)
    starts = idx.start_time.normalize()
    ends = idx.end_time.normalize()
    if by == "month":
        labels = idx.strftime("%Y-%m")
    else:
        labels = starts.strftime("%G-W%V")
    bounds = pd.DataFrame({"period": list(labels), "start": starts, "end": ends})
    # pandas clips datetimes at a Timestamp; pandas-stubs only list numeric bounds.
    bounds["start"] = bounds["start"].clip(lower=pd.Timestamp(start))  # type: ignore[call-overload]
    bounds["end"] = bounds["end"].clip(upper=pd.Timestamp(end))  # type: ignore[call-overload]
    return bounds


def mrr_movements(subs: pd.DataFrame, start: dt.date, end: dt.date, by: Period = "month") -> pd.DataFrame:
    """One row per period from the one holding ``start`` to the one holding ``end``.

    Columns: ``MOVEMENT_COLUMNS``; ``start``/``end`` are the period's first and last day (as
    dates); money columns are floats. See the module docstring for the rules.
    """
    p = _prepare(subs)
    bounds = _period_bounds(start, end, by)
    ps = bounds["start"].to_numpy(dtype="datetime64[D]").astype(np.int64)
    pe = bounds["end"].to_numpy(dtype="datetime64[D]").astype(np.int64)
    # Boundary days: the day before the first period, then each period's last day.
    days = np.concatenate([[ps[0] - 1], pe])
    at = _cents_at(p, days)  # org × (periods + 1)
    s, e = at[:, :-1], at[:, 1:]
    had_before = _first_paid_day(p)[:, None] < ps[None, :]

    up = (s == 0) & (e > 0)
    new = np.where(up & ~had_before, e, 0).sum(axis=0)
    reactivated = np.where(up & had_before, e, 0).sum(axis=0)
    churned = np.where((s > 0) & (e == 0), s, 0).sum(axis=0)
    expansion = np.where((s > 0) & (e > s), e - s, 0).sum(axis=0)
    contraction = np.where((e > 0) & (e < s), s - e, 0).sum(axis=0)
    net = new + expansion + reactivated - contraction - churned
    cents = pd.DataFrame(
        {
            "starting_mrr": s.sum(axis=0),
            "new": new,
            "expansion": expansion,
            "contraction": contraction,
            "churned": churned,
            "reactivated": reactivated,
            "net_new": net,
            "ending_mrr": e.sum(axis=0),
        }
    )
    out = bounds.copy()
    out["start"] = out["start"].dt.date
    out["end"] = out["end"].dt.date
    for col in _MONEY_COLUMNS:
        out[col] = cents[col].to_numpy() / 100.0
    return out[list(MOVEMENT_COLUMNS)]


def nrr_grr(subs: pd.DataFrame, end: dt.date, months: int = 12) -> Retention:
    """Net and gross revenue retention of the orgs paying ``months`` before ``end``."""
    if months < 1:
        raise ValueError(f"months must be at least 1, got {months}")
    start = (pd.Timestamp(end) - pd.DateOffset(months=months)).date()
    p = _prepare(subs)
    at = _cents_at(p, np.array([_day_number(start), _day_number(end)], dtype=np.int64))
    s, e = at[:, 0], at[:, 1]
    cohort = s > 0
    s, e = s[cohort], e[cohort]
    starting = int(s.sum())
    expansion = int(np.where(e > s, e - s, 0).sum())
    contraction = int(np.where((e > 0) & (e < s), s - e, 0).sum())
    churned = int(np.where(e == 0, s, 0).sum())
    ending = int(e.sum())
    nrr = grr = None
    if starting:
        nrr = ending / starting
        grr = min((starting - contraction - churned) / starting, 1.0)
    return Retention(start=start, end=end, starting_mrr=starting / 100.0, expansion=expansion / 100.0,
                     contraction=contraction / 100.0, churned=churned / 100.0, ending_mrr=ending / 100.0,
                     nrr=nrr, grr=grr)
