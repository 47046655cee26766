"""Health score: one explainable 0-100 number per org (docs/ranking.md says it in words).

Interface
---------
``score_health(orgs, ctx, cfg) -> DataFrame``

* ``orgs``: one row per org, index ``org_id``, columns ``scoring.frames.ORG_COLUMNS`` (this
  module reads ``recent_events``, ``previous_events``, ``recent_active_users``,
  ``previous_active_users``, ``seats``, ``activity_active_days``, ``recent_key_features``,
  ``support_penalty`` and ``nps``).
* ``ctx``: ``ScanContext`` (``key_feature_total`` and ``tickets_available`` are used).
* Returns a frame with the same index and the columns of ``health_columns()``, in order:

  - ``usage_change``: (recent_events − previous_events) / previous_events; NaN when the
    previous window is empty (there is nothing to compare with).
  - ``active_users_change``: the same on active users.
  - ``seat_utilization``: recent_active_users / seats; NaN when seats is unknown or <= 0.
  - for each component ``c`` of ``config.HEALTH_COMPONENTS``:
    ``{c}_value`` (the raw input, see below), ``{c}_score`` (0-100, NaN when left out),
    ``{c}_weight`` (effective weight in percent after re-normalisation, summing to 100 over
    the org's included components, NaN when left out) and ``{c}_contribution``
    (score × weight / 100, NaN when left out).
  - ``health``: sum of contributions, rounded to 1 decimal (NaN for an org not active yet,
    see below, or if every included component has weight 0).
  - ``band``: ``'red'`` below ``health.red_below``, ``'green'`` from ``health.green_from``,
    ``'yellow'`` between, judged on the health *as shown* (``shown_health``: whole points, as
    every list, digest and detail prints it), so "40" is never red and "70" never yellow.

Components (raw value → score):

  =================  ===============================  =========================================
  component          ``{c}_value``                    score / left out when
  =================  ===============================  =========================================
  activity           activity_active_days             min(days / scan.activity_full_days, 1)
                                                      × 100; always included
  breadth            recent_key_features              min(value / key_feature_total, 1) × 100;
                                                      out when key_feature_total == 0
  seat_utilization   seat_utilization (ratio)         min(ratio, 1) × 100; out without seats
  trend              usage_change (ratio)             trend_floor → 0, 0 → 50, trend_ceiling
                                                      → 100, linear between, clamped; out when
                                                      usage_change is undefined
  support            support_penalty                  max(0, 100 − penalty); out for every org
                                                      when ctx.tickets_available is False
                                                      (value NaN then); none open → 100
  sentiment          nps (−100..100)                  (nps + 100) / 2; out when nps is NaN
  =================  ===============================  =========================================

An org that is **not active yet** (never seen: no event at or before the scan) gets no health
score at all: every component's score, weight and contribution is NaN (its values are kept),
so ``health`` and ``band`` are missing. It is an activation target, not a health failure:
before this rule such an org scored 12.5 from its support component alone and showed as
Revenue at risk. The lists show it as "not active yet".

A left-out component has no data, which is different from bad data: leaving it out and
re-normalising the remaining weights keeps an org without seats from being punished for a
field nobody imported. A component whose configured weight is 0 is still *included* (weight
0, contribution 0), so the org detail does not claim its data was missing.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from domain.config import Config
from domain.vocabulary import HEALTH_COMPONENTS
from scoring.frames import ScanContext

PART_SUFFIXES = ("value", "score", "weight", "contribution")


def health_columns() -> list[str]:
    """Column order of ``score_health``'s result (the persisting side can rely on it)."""
    cols = ["usage_change", "active_users_change", "seat_utilization"]
    for comp in HEALTH_COMPONENTS:
        cols += [f"{comp}_{part}" for part in PART_SUFFIXES]
    return cols + ["health", "band"]


def numeric(orgs: pd.DataFrame, column: str) -> pd.Series:
    """A column as float64 (None/NaN → NaN): SQL drivers hand back object columns for
    nullable numbers, and arithmetic on those is slow and silently wrong with Decimals."""
    if column not in orgs.columns:
        raise KeyError(f"org frame is missing column {column!r} (see scoring.frames.ORG_COLUMNS)")
    return pd.to_numeric(orgs[column], errors="coerce").astype("float64")


def relative_change(recent: pd.Series, previous: pd.Series) -> pd.Series:
    """(recent − previous) / previous; NaN when previous is 0 (no base to compare with)."""
    return (recent - previous) / previous.where(previous > 0)


def trend_score(change: pd.Series, floor: float, ceiling: float) -> pd.Series:
    """Piecewise-linear map: floor (or worse) → 0, flat → 50, ceiling (or better) → 100."""
    down = (50.0 * (change - floor) / -floor) if floor < 0 else pd.Series(0.0, index=change.index)
    up = (50.0 + 50.0 * change / ceiling) if ceiling > 0 else pd.Series(100.0, index=change.index)
    score = pd.Series(np.where(change < 0, down, up), index=change.index).clip(0.0, 100.0)
    return score.where(change.notna())


def shown_health(health: pd.Series | float) -> pd.Series:
    """Health as people read it: whole points. Every band, cell and health threshold is judged
    on this number, so what is shown and what it is compared with never disagree (39.6 reads
    "40", which is yellow, not red). Halves go to the even number, as Python and numpy print
    them ("12.5" reads "12"), so the rule and the display are one and the same."""
    values = health if isinstance(health, pd.Series) else pd.Series([health], dtype="float64")
    return pd.to_numeric(values, errors="coerce").astype("float64").round(0)


def health_band(health: pd.Series, cfg: Config) -> pd.Series:
    """'red' / 'yellow' / 'green' from the health as shown (``shown_health``); missing → NA."""
    shown = shown_health(health)
    band = pd.Series(
        np.select(
            [shown < cfg.health.red_below, shown >= cfg.health.green_from],
            ["red", "green"],
            default="yellow",
        ),
        index=shown.index,
        dtype="str",
    )
    return band.where(shown.notna())


def _component_values_and_scores(
    orgs: pd.DataFrame, ctx: ScanContext, cfg: Config, usage_change: pd.Series, util: pd.Series
) -> tuple[dict[str, pd.Series], dict[str, pd.Series]]:
    idx = orgs.index
    nan = pd.Series(np.nan, index=idx, dtype="float64")
    values: dict[str, pd.Series] = {}
    scores: dict[str, pd.Series] = {}

    days = numeric(orgs, "activity_active_days").fillna(0.0)
    values["activity"] = days
    scores["activity"] = (days / cfg.scan.activity_full_days).clip(upper=1.0) * 100.0

    key_used = numeric(orgs, "recent_key_features").fillna(0.0)
    values["breadth"] = key_used
    scores["breadth"] = (
        (key_used / ctx.key_feature_total).clip(upper=1.0) * 100.0 if ctx.key_feature_total > 0 else nan
    )

    values["seat_utilization"] = util
    scores["seat_utilization"] = util.clip(upper=1.0) * 100.0

    values["trend"] = usage_change
    scores["trend"] = trend_score(usage_change, cfg.health.trend_floor, cfg.health.trend_ceiling)

    if ctx.tickets_available:
        penalty = numeric(orgs, "support_penalty").fillna(0.0)
        values["support"] = penalty
        scores["support"] = (100.0 - penalty).clip(lower=0.0, upper=100.0)
    else:
        values["support"] = nan
        scores["support"] = nan

    nps = numeric(orgs, "nps")
    values["sentiment"] = nps
    scores["sentiment"] = ((nps + 100.0) / 2.0).clip(0.0, 100.0)
    return values, scores


def never_seen(orgs: pd.DataFrame) -> pd.Series:
    """True for orgs nobody has used the product at (no event at or before the scan): not
    active yet."""
    if "last_seen" not in orgs.columns:
        raise KeyError("org frame is missing column 'last_seen' (see scoring.frames.ORG_COLUMNS)")
    return pd.to_datetime(orgs["last_seen"], utc=True).isna()


def score_health(orgs: pd.DataFrame, ctx: ScanContext, cfg: Config) -> pd.DataFrame:
    """Health per org with every component's value, score, weight and contribution."""
    usage_change = relative_change(numeric(orgs, "recent_events"), numeric(orgs, "previous_events"))
    users_change = relative_change(
        numeric(orgs, "recent_active_users"), numeric(orgs, "previous_active_users")
    )
    seats = numeric(orgs, "seats")
    util = numeric(orgs, "recent_active_users").fillna(0.0) / seats.where(seats > 0)

    values, scores = _component_values_and_scores(orgs, ctx, cfg, usage_change, util)

    score_frame = pd.DataFrame(scores, index=orgs.index, columns=list(HEALTH_COMPONENTS))
    # Not active yet (never seen in the product): nothing to judge its health on. A score made
    # of the lone support component (no tickets: 100 × its share) would read as a health
    # failure; the org is an activation target instead, and shows as "not active yet".
    score_frame = score_frame.mask(never_seen(orgs), axis=0)
    configured = pd.Series(
        {c: float(cfg.health.weights.get(c, 0.0)) for c in HEALTH_COMPONENTS}, dtype="float64"
    )
    raw_weights = score_frame.notna().mul(configured, axis="columns").where(score_frame.notna())
    total = raw_weights.sum(axis="columns", min_count=1)
    weights = raw_weights.div(total.where(total > 0), axis="index") * 100.0
    contributions = score_frame * weights / 100.0
    health = contributions.sum(axis="columns", min_count=1).round(1)

    out: dict[str, pd.Series] = {
        "usage_change": usage_change,
        "active_users_change": users_change,
        "seat_utilization": util,
    }
    for comp in HEALTH_COMPONENTS:
        out[f"{comp}_value"] = values[comp]
        out[f"{comp}_score"] = score_frame[comp]
        out[f"{comp}_weight"] = weights[comp]
        out[f"{comp}_contribution"] = contributions[comp]
    out["health"] = health
    out["band"] = health_band(health, cfg)
    result = pd.DataFrame(out, index=orgs.index, columns=health_columns())
    result.index.name = "org_id"
    return result


def component_scores(health: pd.DataFrame) -> pd.DataFrame:
    """``{c}_score`` columns renamed to bare component names: the shape the next scan expects
    in ``ScanContext.previous_components`` and ``scoring.drivers.what_moved`` compares."""
    frame = health[[f"{c}_score" for c in HEALTH_COMPONENTS]]
    return frame.rename(columns=lambda col: col.removesuffix("_score"))


def left_out_components(health: pd.DataFrame) -> pd.Series:
    """Per org, the components left out for lack of data, as text ("seat utilization, support";
    empty when none), for the org detail's footnote."""
    text = pd.Series("", index=health.index, dtype="str")
    for comp in HEALTH_COMPONENTS:  # six columns, each step vectorized over orgs
        name = comp.replace("_", " ")
        missing = health[f"{comp}_score"].isna()
        text = text.mask(missing, (text + ", " + name).str.removeprefix(", "))
    return text
