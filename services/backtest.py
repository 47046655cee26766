"""Backtest and calibrate: how well the scores predicted what happened, on this deployment's
own history, and health weights fitted from that evidence.

Point in time. For each as-of day D every org is scored the way a scan on D would have
scored it, from what was known by the end of D and nothing later:

* usage from the daily rollups up to and including D (the as-of instant is the last
  microsecond of D, so a day either counts whole or not at all);
* subscriptions by their dates (``started_at <= D < ended_at``), never by a status column
  that describes today (trials and subscriptions canceled without an end date are the two
  statuses that still decide, as they do for every MRR figure);
* tickets opened by D and not closed by then; survey answers given by D;
* "what moved" and falling health compare with the previous as-of day of the backtest
  itself, not with whatever scans happened to run.

Org attributes (seats, renewal date, owner, ICP fit…) are read as they are today: the
product keeps no history of them.

Nothing is written. Every read goes through a read-only transaction (``storage.db``), so a
backtest can run against the production database while the bot serves: no signal, snapshot,
outbox row or audit row appears, and nothing is posted to Slack.

Outcomes over the horizon after D come from the subscriptions' dates too (see
``scoring.evaluation.label_outcomes``); only as-of days whose whole horizon lies inside the
known history are scored.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session, sessionmaker

from domain.config import Config
from domain.vocabulary import HEALTH_COMPONENTS
from scoring import evaluation
from scoring import revenue as rev
from scoring.calibration import CalibrationResult, SplitError, calibrate
from scoring.frames import ScanContext
from scoring.health import score_health
from scoring.signals import evaluate_signals
from services.revenue import load_subscriptions
from storage import db, history, queries

DAY = dt.timedelta(days=1)
DEFAULT_EVERY_DAYS = 7
DEFAULT_HORIZON_DAYS = 60
# The first as-of day needs a full activity window (28 days) and both usage windows behind it.
WARM_UP_DAYS = 28


class BacktestRangeError(ValueError):
    """The period asked for can't be backtested; the message says what is missing, in one line."""


@dataclass(frozen=True)
class BacktestPlan:
    start: dt.date
    end: dt.date
    every_days: int
    horizon_days: int
    history_first: dt.date
    history_end: dt.date  # the last day the data is complete

    @property
    def as_of_days(self) -> list[dt.date]:
        days: list[dt.date] = []
        day = self.start
        while day <= self.end:
            days.append(day)
            day += dt.timedelta(days=self.every_days)
        return days


@dataclass(frozen=True)
class BacktestData:
    """Everything the figures are computed from, as ``scoring.evaluation`` reads it."""

    plan: BacktestPlan
    observations: pd.DataFrame
    outcomes: pd.DataFrame
    open_signals: pd.DataFrame


def end_of_day(day: dt.date) -> dt.datetime:
    """The as-of instant of day D: its last microsecond, UTC, so all of D's rollups are before it."""
    return dt.datetime.combine(day, dt.time.max, tzinfo=dt.timezone.utc)


def plan_backtest(factory: sessionmaker[Session], cfg: Config, *, start: dt.date | None = None,
                  end: dt.date | None = None, every_days: int = DEFAULT_EVERY_DAYS,
                  horizon_days: int = DEFAULT_HORIZON_DAYS) -> BacktestPlan:
    """The as-of days to score, from the data's own span unless given; BacktestRangeError with
    one line when the range can't work (end before start, a horizon past the data, no data)."""
    if every_days < 1 or horizon_days < 1:
        raise BacktestRangeError("--every and --horizon must be at least one day")
    if start is not None and end is not None and end < start:
        raise BacktestRangeError(f"--end {end} is before --start {start}")
    with db.read_only_session(factory) as session:
        app = db.find_application(session, cfg.application)
        if app is None:
            raise BacktestRangeError(f"application {cfg.application!r} has no data: run `saas-tracker import` first")
        span = history.usage_span(session, app.id)
    if span is None:
        raise BacktestRangeError("no usage has been imported: a backtest scores usage, so import usage events first")
    first, last = span
    latest_start = last - dt.timedelta(days=horizon_days)
    start = start or first + dt.timedelta(days=WARM_UP_DAYS)
    end = end or latest_start
    if end > latest_start:
        raise BacktestRangeError(
            f"the {horizon_days}-day horizon after {end} runs past the data, which ends on {last}: "
            f"use --end {latest_start} or earlier, or a shorter --horizon")
    if start > end:
        raise BacktestRangeError(
            f"no as-of day fits: the data runs {first} to {last}, and each as-of day needs "
            f"{WARM_UP_DAYS} days of usage before it and {horizon_days} days of outcome after it "
            f"(try a shorter --horizon)")
    return BacktestPlan(start, end, every_days, horizon_days, first, last)


def _mrr_changes(subs: pd.DataFrame, first: dt.date, last: dt.date) -> pd.DataFrame:
    """Each org's MRR from every change day on (a subscription starting or ending), from
    ``first`` to ``last``: the step function the outcomes are read from."""
    starts = pd.to_datetime(subs["started_at"]).dt.date
    ends = pd.to_datetime(subs["ended_at"]).dt.date.dropna()
    change_days = sorted({first, *(d for d in pd.concat([starts, ends]) if first <= d <= last)})
    frames = []
    for day in change_days:  # a few hundred change days at most, each vectorized over orgs
        mrr = rev.mrr_by_org(subs, day)
        frames.append(pd.DataFrame({"org_id": mrr.index.astype(str), "day": pd.Timestamp(day), "mrr": mrr.values}))
    changes = pd.concat(frames, ignore_index=True)
    # Orgs that stop paying fall out of mrr_by_org: give them an explicit zero on that day.
    everyone = changes["org_id"].unique()
    grid = pd.MultiIndex.from_product([everyone, pd.to_datetime(change_days)], names=["org_id", "day"])
    full = changes.set_index(["org_id", "day"])["mrr"].reindex(grid, fill_value=0.0).reset_index()
    return full.astype({"mrr": "float64"})


def _score_day(session: Session, app_id: int, day: dt.date, cfg: Config, previous: pd.DataFrame | None,
               health_before: pd.Series) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(orgs, health, signals) as a scan at the end of ``day`` would have found them, with the
    backtest's own earlier as-of days standing in for earlier scans."""
    as_of = end_of_day(day)
    orgs = queries.org_frame(session, app_id, as_of, cfg)
    ctx = ScanContext(
        as_of=as_of,
        key_feature_total=queries.key_feature_total(session, app_id, as_of, cfg),
        tickets_available=queries.tickets_available(session, app_id, as_of),
        previous_components=previous[list(HEALTH_COMPONENTS)] if previous is not None else pd.DataFrame(),
        previous_health=previous["health"] if previous is not None else pd.Series(dtype=float),
        health_before=health_before,
    )
    health = score_health(orgs, ctx, cfg)
    signals = evaluate_signals(orgs, health, ctx, cfg)
    return orgs, health, signals


def _observations(day: dt.date, orgs: pd.DataFrame, health: pd.DataFrame, signals: pd.DataFrame) -> pd.DataFrame:
    paying = orgs.index[orgs["mrr"].astype(float) > 0]
    h = health.reindex(paying)
    priority = signals.groupby("org_id")["priority"].max().reindex(paying).fillna(0.0)
    last_seen = pd.to_datetime(orgs.loc[paying, "last_seen"], utc=True)
    silence = (pd.Timestamp(end_of_day(day)) - last_seen) / pd.Timedelta(days=1)
    frame = pd.DataFrame({
        "as_of": pd.Timestamp(day),
        "org_id": paying.astype(str),
        "health": h["health"].astype(float).to_numpy(),
        **{c: h[f"{c}_score"].astype(float).to_numpy() for c in HEALTH_COMPONENTS},
        "priority": priority.astype(float).to_numpy(),
        "mrr": orgs.loc[paying, "mrr"].astype(float).to_numpy(),
        "days_since_seen": np.floor(silence.astype(float).to_numpy()),
    })
    return frame


def _episodes(held: pd.DataFrame) -> pd.DataFrame:
    """``open_signals`` from the conditions that held at each as-of day: an episode opens on
    the first as-of day of an unbroken run of days on which its condition held."""
    if held.empty:
        return pd.DataFrame(columns=list(evaluation.OPEN_SIGNAL_COLUMNS))
    days = sorted(held["as_of"].unique())
    position = {d: i for i, d in enumerate(days)}
    frame = held.assign(_pos=held["as_of"].map(position)).sort_values(["org_id", "type", "_pos"])
    new_run = (frame.groupby(["org_id", "type"])["_pos"].diff() != 1)
    frame["_run"] = new_run.cumsum()
    frame["opened_at"] = frame.groupby("_run")["as_of"].transform("min")
    return frame[list(evaluation.OPEN_SIGNAL_COLUMNS)].reset_index(drop=True)


def _scored_days(factory: sessionmaker[Session], cfg: Config,
                 plan: BacktestPlan) -> Iterator[tuple[dt.date, pd.DataFrame, pd.DataFrame]]:
    with db.read_only_session(factory) as session:
        app = db.find_application(session, cfg.application)
        assert app is not None, "plan_backtest checked the application"
        previous: pd.DataFrame | None = None
        healths: dict[dt.date, pd.Series] = {}
        fall = dt.timedelta(days=cfg.signals.renewal_fall_days)
        for day in plan.as_of_days:  # one vectorized scoring per as-of day
            earlier = [d for d in healths if d <= day - fall]
            before = healths[max(earlier)] if earlier else pd.Series(dtype=float)
            orgs, health, signals = _score_day(session, app.id, day, cfg, previous, before)
            previous = health.rename(columns={f"{c}_score": c for c in HEALTH_COMPONENTS})
            healths[day] = health["health"].astype(float)
            yield day, _observations(day, orgs, health, signals), signals


def collect(factory: sessionmaker[Session], cfg: Config, plan: BacktestPlan,
            expansion_threshold: float = evaluation.DEFAULT_EXPANSION_THRESHOLD) -> BacktestData:
    """Score every as-of day of the plan and label what happened over each horizon."""
    observations, held = [], []
    for day, obs, signals in _scored_days(factory, cfg, plan):
        observations.append(obs)
        paying = set(obs["org_id"])
        open_now = signals.loc[signals["org_id"].isin(paying), ["org_id", "type"]]
        held.append(open_now.assign(as_of=pd.Timestamp(day)))
    obs_frame = pd.concat(observations, ignore_index=True) if observations else pd.DataFrame()
    if obs_frame.empty:
        raise BacktestRangeError(f"no org was paying on any as-of day from {plan.start} to {plan.end}")
    with db.read_only_session(factory) as session:
        app = db.find_application(session, cfg.application)
        assert app is not None
        subs = load_subscriptions(session, app.name)
    changes = _mrr_changes(subs, plan.start, plan.history_end)
    outcomes = evaluation.label_outcomes(obs_frame, changes, plan.horizon_days, expansion_threshold,
                                         history_end=pd.Timestamp(plan.history_end))
    open_signals = _episodes(pd.concat(held, ignore_index=True))
    return BacktestData(plan, obs_frame, outcomes, open_signals)


def run_backtest(factory: sessionmaker[Session], cfg: Config, plan: BacktestPlan, *,
                 expansion_threshold: float = evaluation.DEFAULT_EXPANSION_THRESHOLD,
                 min_churns: int = evaluation.MIN_CHURNS) -> evaluation.BacktestResult:
    """The backtest's figures; NotEnoughEvidence (one line) when the history can't support them."""
    data = collect(factory, cfg, plan, expansion_threshold)
    evaluation.require_evidence(data.observations, data.outcomes, min_churns)
    return evaluation.backtest(data.observations, data.outcomes, data.open_signals,
                               horizon_days=plan.horizon_days, min_churns=min_churns,
                               red_below=cfg.health.red_below, green_from=cfg.health.green_from)


def run_calibration(factory: sessionmaker[Session], cfg: Config, plan: BacktestPlan) -> CalibrationResult:
    """Weights fitted on the earlier as-of days, judged on the later ones. The two parts are
    kept a horizon apart, so no outcome the fit learned from falls inside the held-out period."""
    days = plan.as_of_days
    if len(days) < 2 or (days[-1] - days[0]).days <= plan.horizon_days:
        raise BacktestRangeError(
            f"calibrate needs as-of days more than the {plan.horizon_days}-day horizon apart, so the "
            f"held-out period starts after every outcome the fit learned from; {plan.start} to {plan.end} "
            f"is too short: use a shorter --horizon or a longer history")
    data = collect(factory, cfg, plan, cfg.backtest.expansion_threshold)
    frame = data.observations.assign(churned=data.outcomes["churned"].to_numpy(dtype=bool))
    try:
        return calibrate(frame, cfg.health.weights, train_fraction=cfg.backtest.train_fraction,
                         gap_days=plan.horizon_days, min_train_churns=cfg.backtest.min_churns)
    except SplitError as exc:
        raise BacktestRangeError(
            f"no held-out period is left: after the training days (about {cfg.backtest.train_fraction:.0%} of "
            f"the observations used) and a {plan.horizon_days}-day gap there is no as-of day before {plan.end}; "
            "use a shorter --horizon or a longer history") from exc
