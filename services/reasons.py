"""The one-line reason people read beside each signal, written from its evidence.

Scoring decides *whether* a signal holds and keeps the numbers that made it true (its
evidence); this module turns those numbers into words, so money, percentages and dates are
written one way in every list, digest and alert. It works on the whole frame of signals at
once: the evidence dicts become columns, and each signal type's sentence is built column by
column with pandas string operations (no loop per org).

Interface
---------
``signal_reasons(signals, cfg) -> Series`` (str, aligned with ``signals.index``) and
``with_reasons(signals, cfg) -> DataFrame`` (a copy with a ``reason`` column), for a frame
with at least the columns ``type`` and ``evidence`` (``scoring.signals.evaluate_signals``'
output, or stored signals).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from domain.config import Config
from domain.formatting import format_money
from domain.vocabulary import EXPANSION_CANDIDATE, INACTIVE_PAYING, REVENUE_AT_RISK, USAGE_DROP
from scoring.health import health_band, shown_health
from scoring.text import plain_number, signed_percent


def money(amounts: pd.Series, symbol: str = "$") -> pd.Series:
    """Display-only, through the shared formatter: once per distinct amount (orgs share a few
    plan prices), then spread over the column; missing amounts read "–" as format_money says."""
    codes, uniques = pd.factorize(amounts.astype("float64"))
    texts = np.array([format_money(float(a), symbol) for a in uniques] + [format_money(None, symbol)], dtype=object)
    return pd.Series(texts[codes], index=amounts.index, dtype="str")


def evidence_frame(signals: pd.DataFrame) -> pd.DataFrame:
    """The evidence dicts as columns (a key a signal lacks is NaN), indexed like ``signals``."""
    records = [e if isinstance(e, dict) else {} for e in signals["evidence"].tolist()]
    return pd.DataFrame.from_records(records, index=signals.index) if records else pd.DataFrame(index=signals.index)


def _num(ev: pd.DataFrame, key: str) -> pd.Series:
    if key not in ev.columns:
        return pd.Series(np.nan, index=ev.index, dtype="float64")
    return pd.to_numeric(ev[key], errors="coerce").astype("float64")


def _whole(values: pd.Series) -> pd.Series:
    """Counts as text without a decimal point ("20", not "20.0"); NaN stays NaN."""
    return values.round(0).astype("Int64").astype("str").where(values.notna())


def _with_mrr(mrr: pd.Series, symbol: str, lead: str = " with ") -> pd.Series:
    """" with $4,200 MRR" for paying orgs, nothing otherwise."""
    return (lead + money(mrr, symbol) + " MRR").where(mrr > 0, "")


def _health_text(health: pd.Series, cfg: Config) -> pd.Series:
    """"Health 32 (red)": the number as every list shows it, and the band of that number."""
    shown = shown_health(health)
    return "Health " + plain_number(shown) + " (" + health_band(shown, cfg).astype("str") + ")"


def _activity_text(days: pd.Series, cfg: Config) -> pd.Series:
    """"active on 8 of the last 28 days": what the activity number counts, said in full."""
    return "active on " + _whole(days) + f" of the last {cfg.scan.activity_window_days} days"


def _events_change_text(change: pd.Series, cfg: Config) -> pd.Series:
    window = cfg.scan.recent_window_days
    return ("events " + signed_percent(change) + f" vs the previous {window} days").fillna(
        f"no events in the previous {window} days to compare with")


def _day_text(ev: pd.DataFrame, key: str) -> pd.Series:
    """"Dec 25" from an ISO date of the evidence."""
    days = pd.to_datetime(ev[key], errors="coerce") if key in ev.columns else pd.Series(pd.NaT, index=ev.index)
    return (days.dt.strftime("%b ") + days.dt.day.astype("Int64").astype("str")).where(days.notna())


def _revenue_at_risk(ev: pd.DataFrame, cfg: Config) -> pd.Series:
    health, mrr = _num(ev, "health"), _num(ev, "mrr")
    low = health < _num(ev, "threshold")
    low_text = (
        _health_text(health, cfg) + _with_mrr(mrr, cfg.currency_symbol)
        + " — " + _activity_text(_num(ev, "activity_active_days"), cfg)
        + ", " + _events_change_text(_num(ev, "usage_change"), cfg)
    )
    # Renewal at risk: when, and what makes the health a worry (low, or fallen).
    fall = _num(ev, "health_fall")
    fell = (", down " + _whole(fall) + " points in " + _whole(_num(ev, "renewal_fall_days")) + " days").fillna("")
    below = (", below " + plain_number(_num(ev, "renewal_health_below"))).where(
        health < _num(ev, "renewal_health_below"), "").fillna("")
    shown = shown_health(health)
    health_words = ("health " + plain_number(shown) + " (" + health_band(shown, cfg).astype("str") + ")")
    renewal = ("renews in " + _whole(_num(ev, "days_to_renewal")) + " days (" + _day_text(ev, "renewal_date") + ")")
    renewal_with_health = renewal + " with " + health_words + below + fell
    # Payment trouble: how much of the MRR is past due.
    past_due_amount = _num(ev, "past_due_mrr")
    past_due = ("payment past due on " + money(past_due_amount, cfg.currency_symbol)
                + (" of " + money(mrr, cfg.currency_symbol) + " MRR").where(past_due_amount < mrr, " MRR"))
    past_due = past_due.where(past_due_amount > 0)
    # Key account slipping: a top account's health below the key-account line.
    key_from = _num(ev, "key_account_mrr_from")
    key_below = plain_number(_num(ev, "key_account_health_below"))
    key_account = ("key account (MRR ≥ " + money(key_from, cfg.currency_symbol) + ")").where(key_from.notna())
    key_short = key_account + ", health below " + key_below
    key_full = key_account + " with " + health_words + ", below " + key_below
    # Low health leads, the other conditions follow; without low health the first condition leads.
    extras = (("; " + renewal).fillna("") + ("; " + past_due).fillna(""))
    with_low = low_text + extras
    others = renewal_with_health.where(renewal.notna())
    others = (others + ("; " + past_due).fillna("")).fillna(past_due + ", " + health_words)
    others = (others + ("; " + key_short).fillna("")).fillna(key_full)
    others = others.str.slice(0, 1).str.upper() + others.str.slice(1)
    others = others + _with_mrr(mrr, cfg.currency_symbol, " — ").where(past_due.isna(), "")
    return with_low.where(low, others)


def _short_dates(ev: pd.DataFrame, start: str, end: str) -> pd.Series:
    """"Sep 3 – Sep 30" from two ISO dates of the evidence."""
    def one(key: str) -> pd.Series:
        days = pd.to_datetime(ev[key], errors="coerce") if key in ev.columns else pd.Series(pd.NaT, index=ev.index)
        return (days.dt.strftime("%b ") + days.dt.day.astype("Int64").astype("str")).where(days.notna())
    return one(start) + " – " + one(end)


def _usage_drop(ev: pd.DataFrame, cfg: Config) -> pd.Series:
    users = (", active users " + signed_percent(_num(ev, "active_users_change"))).fillna("")
    mrr = _with_mrr(_num(ev, "mrr"), cfg.currency_symbol, ", ")
    fortnight = (
        "Usage " + signed_percent(_num(ev, "usage_change"))
        + f" vs the previous {cfg.scan.recent_window_days} days ("
        + _whole(_num(ev, "recent_events")) + " vs " + _whole(_num(ev, "previous_events")) + " events)"
        + users + mrr
    )
    # A sustained decline the fortnight comparison misses: said over the weeks it spans.
    change = _num(ev, "decline_change")
    sustained = (
        "Usage down " + _whole(-change * 100) + "% over " + _whole(_num(ev, "decline_weeks")) + " weeks (typical week: "
        + _whole(_num(ev, "decline_first_weekly")) + " events in "
        + _short_dates(ev, "decline_first_from", "decline_first_to")
        + ", " + _whole(_num(ev, "decline_last_weekly")) + " in "
        + _short_dates(ev, "decline_last_from", "decline_last_to")
        + ")" + mrr
    )
    fortnight_holds = (_num(ev, "usage_change") <= _num(ev, "threshold")) & (
        _num(ev, "previous_events") >= _num(ev, "min_previous_events"))
    return fortnight.where(fortnight_holds | change.isna(), sustained)


def _inactive_paying(ev: pd.DataFrame, cfg: Config) -> pd.Series:
    days = _whole(_num(ev, "days_inactive"))
    amount = money(_num(ev, "mrr"), cfg.currency_symbol) + " MRR"
    never = ev["never_seen"].astype("boolean").fillna(False).astype(bool) if "never_seen" in ev.columns \
        else pd.Series(False, index=ev.index)
    created = ev["created_at"].notna() if "created_at" in ev.columns else pd.Series(False, index=ev.index)
    seen_text = "No activity for " + days + " days, paying " + amount
    # Not active yet: an activation target, said as such (its MRR is onboarding MRR).
    since = (" since it was created " + days + " days ago").where(created, "")
    never_text = "Not active yet: nobody has used the product" + since + ", " + amount
    return never_text.where(never, seen_text)


def _expansion(ev: pd.DataFrame, cfg: Config) -> pd.Series:
    util = _num(ev, "seat_utilization")
    seats_text = (
        ", " + _whole(_num(ev, "recent_active_users")) + " of " + _whole(_num(ev, "seats"))
        + " seats in use (" + signed_percent(util).str.removeprefix("+") + ")"
    ).fillna("")
    counts = (" (" + _whole(_num(ev, "recent_events")) + " vs " + _whole(_num(ev, "previous_events")) + ")").fillna("")
    usage = (", events " + signed_percent(_num(ev, "usage_change"))
             + f" vs the previous {cfg.scan.recent_window_days} days" + counts).fillna("")
    return (
        _health_text(_num(ev, "health"), cfg)
        + usage + seats_text + _with_mrr(_num(ev, "mrr"), cfg.currency_symbol, ", ")
    )


_WRITERS = {
    REVENUE_AT_RISK: _revenue_at_risk,
    USAGE_DROP: _usage_drop,
    INACTIVE_PAYING: _inactive_paying,
    EXPANSION_CANDIDATE: _expansion,
}


def champion_text(silent: pd.Series, champions: pd.Series) -> pd.Series:
    """"1 of its 2 most active users has gone quiet"; "its most active user has gone quiet" and
    "its 2 most active users have gone quiet" when every one of them did (never "1 of its 1");
    NaN where no champion is silent."""
    verb = pd.Series(np.where(silent == 1, " has", " have"), index=silent.index, dtype="str")
    some = _whole(silent) + " of its " + _whole(champions) + " most active users" + verb + " gone quiet"
    every = ("its " + _whole(champions) + " most active users have gone quiet").where(
        champions > 1, "its most active user has gone quiet")
    return every.where(silent >= champions, some).where(silent >= 1)


def signal_reasons(signals: pd.DataFrame, cfg: Config) -> pd.Series:
    """One line per signal, from its type and evidence (empty for an unknown type)."""
    reasons = pd.Series("", index=signals.index, dtype="str")
    if signals.empty:
        return reasons
    ev = evidence_frame(signals)
    for signal_type, write in _WRITERS.items():  # one vectorized pass per signal type
        rows = (signals["type"] == signal_type).to_numpy()
        if rows.any():
            reasons.loc[rows] = write(ev.loc[rows], cfg).fillna("").astype("str")
    # A champion gone quiet explains whatever the signal is about: said after it.
    quiet = champion_text(_num(ev, "champions_silent"), _num(ev, "champions"))
    return (reasons + ("; " + quiet).fillna("")).astype("str")


def with_reasons(signals: pd.DataFrame, cfg: Config) -> pd.DataFrame:
    """``signals`` with its ``reason`` column written (replaced when present)."""
    return signals.assign(reason=signal_reasons(signals, cfg))
