"""Everything `/org` shows about one org: health drivers, what moved, usage, subscriptions,
MRR history, open signals, case, segment, tier and why it ranks where it does."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from sqlalchemy.orm import Session

from domain.config import Config
from domain.formatting import format_money
from domain.values import as_float, none_if_missing
from domain.vocabulary import HEALTH_COMPONENTS, RISK_SIGNAL_TYPES
from scoring.priority import priority_breakdown
from domain.vocabulary import CELL_LABELS
from services.read_models import ComponentView, OrgDetail, OrgItem, SubscriptionView
from services import org_work
from services.segmentation import Segmentation, StoredSegmentation, load_segmentation
from services.signal_list import build_items, case_suggestion, visible_signals
from storage import queries, snapshots, subscriptions
from storage.models import HealthSnapshot, Org

COMPONENT_LABELS = {
    "activity": "Activity",
    "breadth": "Breadth",
    "seat_utilization": "Seat utilization",
    "trend": "Trend",
    "support": "Support",
    "sentiment": "Sentiment",
}


def _component_text(name: str, comp: dict, usage: dict, cfg: Config) -> str:
    value = comp.get("value")
    if value is None:
        return "no data"
    if name == "activity":
        return (f"{value:.0f} active days in the last {cfg.scan.activity_window_days} "
                f"({cfg.scan.activity_full_days} = full score)")
    if name == "breadth":
        kind = "key features" if cfg.health.key_features else "features"
        return (f"{usage.get('recent_key_features', value):.0f} {kind} used in the last "
                f"{cfg.scan.recent_window_days} days")
    if name == "seat_utilization":
        return f"{usage.get('recent_active_users', 0)} active users ({value:.0%} of seats)"
    if name == "trend":
        return f"events {value * 100:+.0f}% vs previous {cfg.scan.recent_window_days} days"
    if name == "support":
        return f"{usage.get('open_tickets', 0)} open tickets"
    if name == "sentiment":
        return f"NPS {value:+.0f} ({usage.get('survey_responses', 0)} responses)"
    return f"{value}"


def _reference_text(reference: float, cfg: Config) -> str:
    """Where the revenue reference came from, in words."""
    amount = format_money(reference, cfg.currency_symbol)
    if cfg.priority.revenue_half_mrr > 0:
        return f"{amount}, the configured revenue reference"
    pct = f"{cfg.priority.revenue_half_percentile:g}"
    suffix = "th" if pct.endswith(("11", "12", "13")) else {"1": "st", "2": "nd", "3": "rd"}.get(pct[-1], "th")
    return f"{amount}, the {pct}{suffix} percentile of paying orgs' MRR"


def why_this_rank(item: OrgItem, cfg: Config) -> str | None:
    """The priority formula with the org's own numbers, for its top signal, and the revenue
    reference the scan weighed its MRR against (stored in the signal's evidence)."""
    if not item.signals:
        return None
    top = item.signals[0]
    severity = top.evidence.get("severity")
    if severity is None:
        return None
    reference = top.evidence.get("revenue_reference")
    if reference is None and cfg.priority.revenue_half_mrr <= 0:
        return None  # stored before references were kept: the next scan adds it
    mrr = float(top.evidence.get("mrr") or item.mrr or 0.0)
    b = priority_breakdown(top.type, float(severity), mrr, cfg,
                           float(reference) if reference is not None else None).iloc[0]
    return (f"Priority {b['priority']:.1f} = {b['type_weight']:.2f} ({top.label}) × "
            f"({b['base_points']:.0f} base + {b['severity_points']:.1f} for severity {b['severity']:.2f} "
            f"+ {b['revenue_points']:.1f} for {format_money(mrr, cfg.currency_symbol)} MRR against "
            f"{_reference_text(float(b['revenue_reference']), cfg)})")


def expansion_held_back(item: OrgItem, latest: HealthSnapshot | None, cfg: Config) -> str | None:
    """Why the org holds no Expansion candidate although it met the condition: an open risk
    signal comes first (the scan marks the risk signals' evidence with expansion_held_back)."""
    if not any(s.evidence.get("expansion_held_back") for s in item.signals):
        return None
    risks = [s.label for s in item.signals if s.type in RISK_SIGNAL_TYPES]
    usage = (latest.usage or {}) if latest is not None else {}
    facts = []
    if item.health is not None:
        facts.append(f"health {item.health:.0f} ({item.band})")
    change, util = usage.get("usage_change"), usage.get("seat_utilization")
    if change is not None and change >= cfg.signals.expansion_growth_from:
        facts.append(f"events {change * 100:+.0f}% vs the previous {cfg.scan.recent_window_days} days")
    if util is not None and util >= cfg.signals.expansion_seat_utilization_from:
        facts.append(f"{util:.0%} of seats in use")
    met = f" ({', '.join(facts)})" if facts else ""
    return (f"Expansion candidate held back: the org meets its condition{met}, but its open "
            f"{' and '.join(risks) or 'risk signal'} comes first — risk before growth.")


def champion_quiet_text(session: Session, org_id: str, latest: HealthSnapshot | None, cfg: Config) -> str | None:
    """"2 of the 3 most active users of the previous 14 days (u3, u7) have been silent since,
    while others carry on" when the org's latest scan saw a champion go quiet, else None."""
    usage = (latest.usage or {}) if latest is not None else {}
    silent = int(usage.get("champions_silent") or 0)
    if not (silent >= 1 and (usage.get("recent_events") or 0) > 0
            and (usage.get("previous_events") or 0) >= cfg.signals.champion_min_previous_events):
        return None
    if latest is None:
        return None
    users = queries.champion_users(session, org_id, latest.day, cfg)
    quiet = [user for user, _previous, recent in users if recent == 0]
    who = f" ({', '.join(quiet)})" if quiet else ""
    champions = int(usage.get("champions") or silent)
    if silent >= champions:  # never "1 of the 1"
        whom = "the most active user" if champions == 1 else f"the {champions} most active users"
    else:
        whom = f"{silent} of the {champions} most active users"
    verb = "has" if whom == "the most active user" or silent == 1 else "have"
    return (f"{whom} of the previous {cfg.scan.recent_window_days} days{who} {verb} been silent since, "
            "while others carry on")


def org_detail(session: Session, application_id: int, org_id: str, now: dt.datetime, cfg: Config, *,
               segmentation: Segmentation | StoredSegmentation | None = None) -> OrgDetail | None:
    """Everything `/org` shows, with the org's cell, tier, quadrant and case suggestion as of ``now``.

    ``extras`` carries numbers a renderer may show: ``case_why`` (the suggestion's reason),
    ``champion_quiet`` (who of its most active users went quiet, also in the activity
    driver), ``expansion_held_back`` (why an org meeting the expansion condition holds no Expansion
    candidate: an open risk signal comes first; also appended to ``why_rank``),
    ``cell_key``, ``value``, ``potential`` and ``account_priority`` (0-100, None when no
    input was available) and ``tier_mode``.
    """
    org = session.get(Org, org_id)
    if org is None or org.application_id != application_id:
        return None
    seg = segmentation or load_segmentation(session, application_id, now, cfg)
    signals = visible_signals(session, application_id, now, org_ids=[org_id])
    (item,) = build_items(session, application_id, signals, [org_id], now, cfg, segmentation=seg)

    snaps = snapshots.latest_two(session, org_id)
    latest = snaps[0] if snaps else None
    previous = snaps[1] if len(snaps) > 1 else None
    components: list[ComponentView] = []
    moved: list[tuple[str, float]] = []
    if latest is not None:
        usage = latest.usage or {}
        for name in HEALTH_COMPONENTS:
            comp = (latest.components or {}).get(name) or {}
            left_out = name in (latest.left_out or [])
            components.append(ComponentView(
                name=name, label=COMPONENT_LABELS[name], value=comp.get("value"),
                value_text=_component_text(name, comp, usage, cfg), score=comp.get("score"),
                weight=comp.get("weight"), contribution=comp.get("contribution"), left_out=left_out,
            ))
            if previous is not None:
                before = ((previous.components or {}).get(name) or {}).get("score")
                now_score = comp.get("score")
                if before is not None and now_score is not None and abs(now_score - before) >= 1:
                    moved.append((COMPONENT_LABELS[name].lower(), round(now_score - before, 1)))
        moved.sort(key=lambda m: -abs(m[1]))

    quiet = champion_quiet_text(session, org_id, latest, cfg)
    if quiet:
        # Said in the drivers, beside the activity it explains.
        components = [replace(c, value_text=f"{c.value_text}; {quiet}") if c.name == "activity" else c
                      for c in components]

    subs = subscriptions.org_subscriptions(session, org_id)
    today = now.date()
    sub_views = tuple(
        SubscriptionView(
            subscription_id=s.subscription_id, product=s.product, plan=s.plan, mrr=float(s.mrr), status=s.status,
            started_at=s.started_at, ended_at=s.ended_at,
            counts_now=(s.started_at <= today and (s.ended_at is None or s.ended_at > today)
                        and s.status != "trialing" and not (s.status == "canceled" and s.ended_at is None)),
        )
        for s in subs
    )
    end_day = latest.day if latest is not None else today
    cell_key = seg.cell_of(org_id)
    tiers = seg.tier_of(org_id)
    extras: dict[str, object] = {
        "case_why": case_suggestion(seg, org_id, item.signals)[1],
        "cell_key": cell_key,
        "value": as_float(tiers["value"]) if tiers is not None else None,
        "potential": as_float(tiers["potential"]) if tiers is not None else None,
        "account_priority": as_float(tiers["account_priority"]) if tiers is not None else None,
        "tier_mode": seg.cfg.tiers.mode,
        "why_rank": why_this_rank(item, seg.cfg),
        "expansion_held_back": expansion_held_back(item, latest, seg.cfg),
        "champion_quiet": quiet,
    }
    if extras["why_rank"] and extras["expansion_held_back"]:
        # Shown wherever "why this rank" is (terminal and Slack): it is part of why.
        extras["why_rank"] = f"{extras['why_rank']}. {extras['expansion_held_back']}"
    return OrgDetail(
        item=item,
        domain=org.domain,
        plan=org.plan,
        seats=org.seats,
        created_at=org.created_at,
        components=tuple(components),
        moved=tuple(moved),
        usage_weeks=tuple(queries.weekly_usage(session, org_id, end_day)),
        subscriptions=sub_views,
        mrr_history=tuple(mrr_history(sub_views)),
        renewal_date=org.renewal_date,
        cell=CELL_LABELS[cell_key] if cell_key else None,
        tier=none_if_missing(tiers["tier"]) if tiers is not None else None,
        quadrant=none_if_missing(tiers["quadrant"]) if tiers is not None else None,
        extras=extras,
        **org_work.detail_fields(session, application_id, org, item, seg, latest, previous, end_day, now, cfg),
    )


def mrr_history(subs: tuple[SubscriptionView, ...]) -> list[tuple[dt.date, float]]:
    """The org's MRR after every date on which a subscription started or ended."""
    counted = [s for s in subs if s.status != "trialing" and not (s.status == "canceled" and s.ended_at is None)]
    dates = sorted({s.started_at for s in counted} | {s.ended_at for s in counted if s.ended_at})
    history: list[tuple[dt.date, float]] = []
    for day in dates:  # one row per change date of one org
        mrr = sum(s.mrr for s in counted if s.started_at <= day and (s.ended_at is None or s.ended_at > day))
        if not history or history[-1][1] != mrr:
            history.append((day, round(mrr, 2)))
    return history
