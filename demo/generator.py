"""Deterministic demo data: a B2B SaaS customer base that exercises every signal.

``generate_demo_data`` writes the five CSV files ``saas-tracker import`` reads. Same seed,
org count, day count and end date → byte-identical files (numpy ``Generator`` streams
derived from the seed, stable sorts, fixed number formatting), so a demo, a screenshot or
a benchmark can be reproduced exactly.

The data is shaped like a real customer base rather than uniform noise: MRR is heavy-tailed
(most orgs pay $50-$500 a month, a few $10k-$40k), usage follows working days and seats,
and every org follows one *pattern* (growing, steady, declining, sharp drop, low
engagement, gone quiet, imported but never active, churned, trial, reactivated) with its
own random strength. The mix is fixed (``PATTERN_SHARES``, exact counts in every segment)
and most orgs are steady, used to a weekly rhythm rather than by coin flips, so a scan at
the end date flags about a fifth of the orgs, as a customer-success team would expect,
whatever the seed. On top of that come named story orgs with fixed ids, each built to
land on one signal when scanned at the end date (see ``STORY_ORGS``); they lead the ranked
list, among a few big accounts of the base.

Usage events are generated and appended to ``usage_events.csv`` one batch of orgs at a
time, vectorized with numpy, so ``--orgs 100000 --days 60`` (about ten million events)
runs in bounded memory.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from demo.defaults import DEFAULT_DAYS, DEFAULT_ORGS, DEFAULT_OUT, DEFAULT_SEED  # noqa: F401
ORG_BATCH = 500  # orgs per batch of generated events

# Ordered by popularity: an org using k features mostly uses the first ones.
FEATURES = (
    "dashboards", "reports", "exports", "alerts", "search", "sharing",
    "integrations", "api", "automations", "permissions", "mobile", "audit-log",
)
OWNERS = ("ana@example.com", "ben@example.com", "chloe@example.com", "dev@example.com", "eli@example.com")
INDUSTRIES = ("software", "retail", "healthcare", "finance", "education", "manufacturing", "media", "logistics")
CURRENCY = "USD"
PRODUCT = "core"
ADDON_PRODUCT = "analytics-addon"
SEVERITIES = ("p1", "p2", "p3", "p4")
RECENT_DAYS = 14  # the scan's recent window (config.ScanConfig.recent_window_days)
DECLINE_SPAN_DAYS = 56  # declining orgs fade over their last eight weeks
# B2B products are mostly used on weekdays: fewer orgs active at weekends, and with few people.
WEEKEND_ACTIVE_FACTOR = 0.35
WEEKEND_USERS_FACTOR = 0.25
EXTRA_COUNT_SHARE = 0.05  # events carrying count > 1 (batched client events)
# Ordinary orgs work to a rhythm: an org active on 60 % of weekdays uses the product on
# three weekdays in five, evenly spread, not on a coin flip per day; its daily head count
# and volume vary less than independent draws would make them (ORDINARY_JITTER scales the
# random part; 1 = pure chance, as for story orgs, whose events stay exactly as their
# stories were tuned); and when its client batches events (a row with count > 1) the row
# stands for events that happened rather than adding events on top. With coin flips, a
# small steady customer's fortnight of usage varies by about 30 % by chance alone, and one
# steady org in four looked like a Usage drop or an Expansion candidate.
ORDINARY_JITTER = 0.2
ORDINARY_MERGED_DAYS = 0.1  # share of an ordinary org's active days whose last events go up as one row

# Usage patterns. Each ordinary org gets one; story orgs pin theirs explicitly.
GROWING, STEADY, DECLINING, DROPPED, LOW, QUIET, DORMANT, CHURNED, TRIAL, REACTIVATED = range(10)
PATTERN_NAMES = ("growing", "steady", "declining", "dropped", "low", "quiet", "dormant",
                 "churned", "trial", "reactivated")
PATTERN_SHARES = (0.045, 0.55, 0.09, 0.045, 0.045, 0.03, 0.01, 0.09, 0.05, 0.045)
BAD_PATTERNS = (DECLINING, DROPPED, LOW, QUIET, CHURNED)
# Fixed weekly schedules (bit per weekday, Monday = bit 0) for story orgs whose story needs
# steady numbers rather than random active days and volumes; 0 = random (p_weekday, lam).
MONDAY, TUESDAY, WEDNESDAY, THURSDAY, FRIDAY = (1 << d for d in range(5))

_ADJECTIVES = ("Blue", "Bright", "Cedar", "Copper", "Crimson", "Delta", "Eastern", "Golden", "Granite",
               "Harbor", "Iron", "Lunar", "Maple", "Northern", "Nova", "Oak", "Pacific", "Quantum",
               "Rapid", "Red", "Silver", "Solar", "Summit", "Swift", "True", "Urban", "Vivid", "Western")
_NOUNS = ("Analytics", "Bridge", "Cloud", "Craft", "Data", "Dynamics", "Field", "Forge", "Grid",
          "Health", "Labs", "Logic", "Media", "Motion", "Networks", "Path", "Pixel", "Point",
          "Retail", "Signal", "Stack", "Systems", "Works", "Ventures")
_SUFFIXES = ("Inc", "LLC", "Group", "Co", "GmbH", "Ltd", "Partners", "Holdings")


@dataclass(frozen=True)
class StoryOrg:
    """A named org built to show one behaviour; ``signal`` is what a scan at end date shows."""

    org_id: str
    name: str
    domain: str
    signal: str


STORY_ORGS: tuple[StoryOrg, ...] = (
    StoryOrg("acme", "Acme Corp", "acme.com", "Expansion candidate: healthy (green), growing fast, seats full"),
    StoryOrg("globex", "Globex", "globex.com", "Usage drop: hundreds of events, then down >60% in the last 14 days"),
    StoryOrg("initech", "Initech", "initech.com", "Revenue at risk: big MRR, little use, open p1 tickets, detractors"),
    StoryOrg("umbrella", "Umbrella Health", "umbrella-health.com", "Inactive paying: no events for 24 days"),
    StoryOrg("hooli", "Hooli", "hooli.com", "Inactive paying (onboarding): imported from billing, never active"),
    StoryOrg("soylent", "Soylent", "soylent.com", "churned: subscription ended 60 days ago, MRR now 0"),
    StoryOrg("stark", "Stark Industries", "starkindustries.com", "reactivated: churned, new subscription 30 days ago"),
    StoryOrg("wayne", "Wayne Enterprises", "wayne-enterprises.com", "upgraded: higher-MRR subscription 30 days ago"),
    StoryOrg("vandelay", "Vandelay Industries", "vandelay.com", "trialing subscription (no MRR yet)"),
    StoryOrg("cyberdyne", "Cyberdyne Systems", "cyberdyne.com",
             "Usage drop (sustained): weekly usage down about 60 % over 12 weeks, fortnights alike"),
    StoryOrg("massive", "Massive Dynamic", "massivedynamic.com",
             "Revenue at risk (renewal): renews in 30 days with yellow health"),
    StoryOrg("tyrell", "Tyrell Corp", "tyrell.com",
             "Revenue at risk (payment): healthy, but its subscription is past due"),
)


@dataclass(frozen=True)
class DemoSummary:
    out_dir: Path
    orgs: int
    subscriptions: int
    tickets: int
    surveys: int
    events: int
    end_date: dt.date


def _rng(seed: int, *stream: int) -> np.random.Generator:
    """Independent, reproducible streams: one per table and per event batch."""
    return np.random.default_rng(np.random.SeedSequence([seed, *stream]))


# ---------------------------------------------------------------------------------------
# Orgs: attributes plus the hidden usage parameters the event generator reads.
# ---------------------------------------------------------------------------------------

def _story_frame() -> pd.DataFrame:
    """The story orgs, every parameter pinned (d = days before the end date)."""
    base = dict(pattern=STEADY, segment=2, source="signup", p_weekday=0.9, users_frac=0.3, lam=2.0,
                breadth=8, recent_mult=1.0, decline=0.0, decline_span=DECLINE_SPAN_DAYS, decline_power=1.0,
                start_d=10_000, stop_d=0, gap_lo=0, gap_hi=0,
                force_d=0, schedule=0, rhythm=0, jitter=1.0, count_share=EXTRA_COUNT_SHARE, ticket_rate=0.0,
                good=True, seats_missing=False, scores_missing=False)
    rows = [
        # Busy every weekday with nearly all 60 seats, all features, +50 % in the last 14 days.
        dict(org_id="acme", pattern=GROWING, seats=60, n_users=59, mrr=18000, p_weekday=1.0, users_frac=0.55,
             lam=2.5, breadth=len(FEATURES), recent_mult=1.9, created_d=900, owner="ana@example.com",
             industry="manufacturing", icp=92, strategic=88, relationship=85, force_d=1),
        # Hundreds of events per fortnight, then a sharp fall (still a few events: not inactive).
        dict(org_id="globex", pattern=DROPPED, seats=30, n_users=26, mrr=4500, p_weekday=0.95, users_frac=0.45,
             lam=3.0, breadth=7, recent_mult=0.12, created_d=700, owner="ben@example.com", industry="finance",
             icp=70, strategic=60, relationship=55, force_d=3),
        # Pays the most, but only two people log in, on Tuesdays and Thursdays, for a couple
        # of reports, and a little less each week; p1s open, detractors.
        dict(org_id="initech", pattern=DECLINING, seats=200, n_users=2, mrr=24000, lam=12.0,
             breadth=2, decline=0.8, schedule=TUESDAY | THURSDAY, created_d=1200, owner="chloe@example.com",
             industry="software", icp=55, strategic=75, relationship=20, good=False),
        # Used to be active, silent for the last 24 days.
        dict(org_id="umbrella", pattern=QUIET, seats=40, n_users=30, mrr=6000, p_weekday=0.85, users_frac=0.3,
             lam=2.0, breadth=6, stop_d=24, created_d=800, owner="dev@example.com", industry="healthcare",
             icp=65, strategic=50, relationship=45),
        # Created from billing 45 days ago, paying, nobody ever logged in.
        dict(org_id="hooli", pattern=DORMANT, source="import", seats=25, n_users=20, mrr=3000, p_weekday=0.0,
             created_d=45, owner="eli@example.com", industry="media", icp=80, strategic=40, relationship=50),
        # Subscription ended 60 days ago; usage stopped a little before.
        dict(org_id="soylent", pattern=CHURNED, seats=15, n_users=10, mrr=2500, p_weekday=0.6, users_frac=0.25,
             breadth=5, decline=0.3, stop_d=62, created_d=600, owner="ben@example.com", industry="retail",
             icp=40, strategic=30, relationship=30, good=False),
        # Churned 100 days ago, came back with a new subscription 30 days ago.
        dict(org_id="stark", pattern=REACTIVATED, seats=20, n_users=16, mrr=1800, p_weekday=0.85, users_frac=0.35,
             breadth=7, gap_lo=30, gap_hi=100, created_d=1000, owner="ana@example.com", industry="manufacturing",
             icp=85, strategic=80, relationship=60, force_d=1),
        # Upgraded 30 days ago to a bigger plan.
        dict(org_id="wayne", pattern=STEADY, seats=80, n_users=70, mrr=3500, p_weekday=0.9, users_frac=0.35,
             breadth=9, created_d=1100, owner="chloe@example.com", industry="finance", icp=90, strategic=95,
             relationship=80, force_d=1),
        # Trial started 10 days ago.
        dict(org_id="vandelay", pattern=TRIAL, seats=10, n_users=6, mrr=800, p_weekday=0.7, users_frac=0.5,
             breadth=4, start_d=10, created_d=12, owner="dev@example.com", industry="logistics",
             icp=60, strategic=35, relationship=40, force_d=1),
        # $9,000, twenty people every weekday, fewer events each week: 100 a day twelve weeks
        # ago, 36 now, in a straight line (decline_power 2 makes the events, not their square
        # root, fall linearly). Any two neighbouring fortnights differ by about 20 %.
        dict(org_id="cyberdyne", pattern=DECLINING, seats=40, n_users=20, mrr=9000, lam=4.0, breadth=5,
             decline=0.8, decline_span=84, decline_power=2.0, schedule=MONDAY | TUESDAY | WEDNESDAY | THURSDAY | FRIDAY,
             created_d=1300, owner="eli@example.com", industry="software", icp=75, strategic=70, relationship=55),
        # $5,000, renews in 30 days; six people on Mondays, Wednesdays and Fridays, a third of
        # the features: health in the yellow, steady, nothing dropping.
        dict(org_id="massive", pattern=STEADY, seats=40, n_users=6, mrr=5000, lam=3.0, breadth=4,
             schedule=MONDAY | WEDNESDAY | FRIDAY, created_d=700, owner="ana@example.com", industry="media",
             icp=60, strategic=65, relationship=40, renewal_d=30),
        # $2,000, ten people every weekday: healthy, but the card on file was declined.
        dict(org_id="tyrell", pattern=STEADY, seats=12, n_users=10, mrr=2000, lam=3.0, breadth=8,
             schedule=MONDAY | TUESDAY | WEDNESDAY | THURSDAY | FRIDAY, created_d=500, owner="ben@example.com",
             industry="manufacturing", icp=70, strategic=45, relationship=60),
    ]
    # Renewals of the other stories are pinned outside the 90-day renewal window, so whatever
    # the seed, no story lands on a renewal it was not written for.
    renewals = {"acme": 200, "globex": 150, "initech": 240, "umbrella": 300, "hooli": 330, "soylent": -1,
                "stark": 180, "wayne": 120, "vandelay": 365, "cyberdyne": 210, "tyrell": 250}
    for r in rows:
        if "renewal_d" not in r:
            r["renewal_d"] = renewals[str(r["org_id"])]
    frame = pd.DataFrame([{**base, **r} for r in rows])
    names = {s.org_id: s for s in STORY_ORGS}
    frame["name"] = [names[o].name for o in frame["org_id"]]
    frame["domain"] = [names[o].domain for o in frame["org_id"]]
    return frame


def _ordinary_frame(n: int, seed: int, days: int) -> pd.DataFrame:
    rng = _rng(seed, 1)
    segment = rng.choice(3, size=n, p=(0.80, 0.16, 0.04))  # SMB, mid-market, enterprise
    # The same mix of patterns in every segment, so the big accounts have their share of
    # trouble and growth too (and the top of the priority list has some money behind it).
    pattern = np.zeros(n, dtype=int)
    for seg in range(3):
        members = np.flatnonzero(segment == seg)
        pattern[members] = _allocate_patterns(len(members), rng)
    seats = np.select(
        [segment == 0, segment == 1],
        [np.clip(np.exp(rng.normal(1.3, 0.6, n)), 2, 25), np.clip(np.exp(rng.normal(3.0, 0.5, n)), 10, 150)],
        np.clip(np.exp(rng.normal(4.4, 0.5, n)), 40, 600),
    ).round().astype(int)
    per_seat = np.select([segment == 0, segment == 1], [rng.uniform(12, 40, n), rng.uniform(25, 60, n)],
                         rng.uniform(50, 110, n))
    mrr = np.clip((seats * per_seat).round(), 29, 40000)

    u = rng.random((8, n))  # shared uniforms for the pattern parameters below
    def between(lo: float, hi: float, row: int) -> np.ndarray:
        return lo + (hi - lo) * u[row]

    table = {  # pattern → p_weekday lo/hi, users_frac lo/hi, lam lo/hi, breadth lo/hi, coverage lo/hi
        GROWING: (0.65, 0.85, 0.20, 0.36, 0.9, 1.8, 8, 12, 0.85, 1.0),
        STEADY: (0.55, 0.95, 0.12, 0.28, 0.6, 1.5, 5, 11, 0.60, 0.95),
        DECLINING: (0.40, 0.80, 0.10, 0.20, 0.6, 1.2, 3, 8, 0.50, 0.90),
        DROPPED: (0.60, 0.90, 0.16, 0.32, 1.4, 2.4, 4, 9, 0.60, 0.95),
        LOW: (0.06, 0.20, 0.03, 0.12, 0.3, 0.9, 1, 4, 0.30, 0.70),
        QUIET: (0.50, 0.90, 0.12, 0.24, 0.6, 1.2, 3, 9, 0.50, 0.90),
        DORMANT: (0.0, 0.0, 0.00, 0.00, 0.0, 0.0, 1, 1, 0.50, 0.90),
        CHURNED: (0.30, 0.70, 0.06, 0.18, 0.5, 1.1, 2, 7, 0.40, 0.80),
        TRIAL: (0.40, 0.85, 0.18, 0.36, 0.6, 1.5, 2, 7, 0.50, 1.00),
        REACTIVATED: (0.60, 0.90, 0.16, 0.28, 0.6, 1.5, 4, 9, 0.60, 0.95),
    }
    params = np.array([table[p] for p in range(len(PATTERN_NAMES))])[pattern]
    p_weekday = params[:, 0] + (params[:, 1] - params[:, 0]) * u[0]
    users_frac = params[:, 2] + (params[:, 3] - params[:, 2]) * u[1]
    lam = params[:, 4] + (params[:, 5] - params[:, 4]) * u[2]
    breadth = np.floor(params[:, 6] + (params[:, 7] - params[:, 6] + 1) * u[3]).astype(int)
    breadth = np.minimum(breadth, len(FEATURES))
    # Rounded down: a customer that bought 3 seats and uses 90 % of them has 2 people, not a full house.
    n_users = np.maximum(1, np.floor(seats * (params[:, 8] + (params[:, 9] - params[:, 8]) * u[4]))).astype(int)

    recent_mult = np.select([pattern == GROWING, pattern == DROPPED], [between(1.4, 2.0, 5), between(0.08, 0.45, 5)],
                            between(0.9, 1.1, 5))
    decline = np.select([pattern == DECLINING, pattern == CHURNED], [between(0.3, 0.7, 6), between(0.6, 0.9, 6)], 0.0)
    quiet_from = np.minimum(15 + np.floor(u[7] * 46), max(days - 10, 16)).astype(int)  # 15..60 days silent
    # Subscription ended 10..days−30 days ago (10..90 on 120 days): churn spread over the whole
    # history, so a backtest finds churns in its early weeks too, and calibrate has some to fit on.
    churn_d = (10 + np.floor(u[7] * max(days - 39, 1))).astype(int)
    trial_d = (5 + np.floor(u[7] * 21)).astype(int)  # trial started 5..25 days ago
    gap_hi = (60 + np.floor(u[6] * 41)).astype(int)
    gap_lo = (15 + np.floor(u[7] * 26)).astype(int)
    churn_stop = churn_d - np.floor(u[5] * 5).astype(int)
    stop_d = np.select([pattern == QUIET, pattern == CHURNED], [quiet_from, churn_stop], 0)
    start_d = np.where(pattern == TRIAL, trial_d, 10_000)
    created_d = np.select(
        [pattern == TRIAL, pattern == DORMANT],
        [trial_d + rng.integers(0, 5, n), rng.integers(20, 91, n)],
        rng.integers(120, 1500, n),
    )
    # A churned org was a customer for a while first: created at least 37 days before its
    # churn, so its subscription (started 0-7 days before creation) ran a month or more.
    created_d = np.where(pattern == CHURNED, np.maximum(created_d, churn_d + 37), created_d)
    reactivated = pattern == REACTIVATED
    source = np.where((pattern == DORMANT) | (rng.random(n) < 0.1), "import", "signup")
    good = ~np.isin(pattern, BAD_PATTERNS)
    rhythm = (pattern != DORMANT).astype(int)  # 1: active days evenly spread (see _evenly_spread)

    owner_pick = rng.integers(0, len(OWNERS), n)
    owner = np.where((segment > 0) | (rng.random(n) < 0.5), np.array(OWNERS)[owner_pick], "")
    quality = np.where(good, 15.0, -15.0)
    def score_col() -> np.ndarray:
        return np.clip(rng.normal(55 + quality, 20, n), 0, 100).round()

    return pd.DataFrame({
        "org_id": [f"org-{i:0{max(5, len(str(n)))}d}" for i in range(1, n + 1)],
        "name": _org_names(n, rng),
        "pattern": pattern, "segment": segment, "source": source, "seats": seats, "n_users": n_users,
        "mrr": mrr, "p_weekday": p_weekday, "users_frac": users_frac, "lam": lam, "breadth": breadth,
        "recent_mult": recent_mult, "decline": decline, "decline_span": DECLINE_SPAN_DAYS, "decline_power": 1.0,
        "renewal_d": -2, "start_d": start_d, "stop_d": stop_d,
        "gap_lo": np.where(reactivated, gap_lo, 0), "gap_hi": np.where(reactivated, gap_hi, 0),
        "force_d": 0, "schedule": 0, "rhythm": rhythm, "jitter": ORDINARY_JITTER,
        "count_share": 0.0, "created_d": created_d, "owner": owner,
        "industry": np.array(INDUSTRIES)[rng.integers(0, len(INDUSTRIES), n)],
        "icp": score_col(), "strategic": score_col(), "relationship": score_col(),
        "ticket_rate": np.where(good, 0.4, 0.9) * np.sqrt(seats) / 2,
        "good": good,
        "seats_missing": rng.random(n) < 0.05,
        "scores_missing": rng.random(n) < 0.15,
    })


def _allocate_patterns(n: int, rng: np.random.Generator) -> np.ndarray:
    """Exactly ``round(share × n)`` orgs per pattern (largest remainders), in random order.

    Drawing each org's pattern independently would let the number of troubled orgs, and
    so of signals, swing by a third from one seed to the next; a fixed mix keeps the story
    of the customer base the same for every seed while who is who changes."""
    shares = np.asarray(PATTERN_SHARES)
    exact = shares / shares.sum() * n
    counts = np.floor(exact).astype(int)
    short = n - counts.sum()
    counts[np.argsort(-(exact - counts), kind="stable")[:short]] += 1
    return rng.permutation(np.repeat(np.arange(len(shares)), counts))


def _org_names(n: int, rng: np.random.Generator) -> list[str]:
    combos = len(_ADJECTIVES) * len(_NOUNS) * len(_SUFFIXES)
    picks = rng.permutation(combos)[: min(n, combos)]
    names = []
    for i in range(n):
        k = int(picks[i % len(picks)])
        a, rest = divmod(k, len(_NOUNS) * len(_SUFFIXES))
        b, c = divmod(rest, len(_SUFFIXES))
        name = f"{_ADJECTIVES[a]} {_NOUNS[b]} {_SUFFIXES[c]}"
        names.append(name if i < combos else f"{name} {i // combos + 1}")
    return names


def _slug(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


def _orgs(n: int, seed: int, days: int, end: dt.date) -> pd.DataFrame:
    story = _story_frame()
    if n < len(story):
        raise ValueError(f"--orgs must be at least {len(story)} (the story orgs)")
    ordinary = _ordinary_frame(n - len(story), seed, days)
    ordinary["domain"] = [f"{_slug(name)}.example" for name in ordinary["name"]]
    frame = pd.concat([story, ordinary], ignore_index=True)
    for col in ("seats", "n_users", "breadth", "start_d", "stop_d", "gap_lo", "gap_hi", "force_d", "schedule",
                "rhythm", "created_d", "renewal_d"):
        frame[col] = frame[col].astype(int)
    frame["mrr"] = frame["mrr"].astype(float)
    return frame


# ---------------------------------------------------------------------------------------
# CSV tables
# ---------------------------------------------------------------------------------------

def _iso_day(end: dt.date, days_before: np.ndarray) -> np.ndarray:
    return (np.datetime64(end, "D") - days_before.astype("timedelta64[D]")).astype(str)


def _iso_time(end: dt.date, seconds_before: np.ndarray) -> np.ndarray:
    stamps = np.datetime64(end, "s") - seconds_before.astype("timedelta64[s]")
    return np.char.add(np.datetime_as_string(stamps, unit="s"), "Z")


def _fmt_scores(values: np.ndarray, missing: np.ndarray) -> list[str]:
    return ["" if m else str(int(v)) for v, m in zip(values, missing)]


def _orgs_csv(orgs: pd.DataFrame, end: dt.date, seed: int) -> pd.DataFrame:
    rng = _rng(seed, 2)
    n = len(orgs)
    mrr = orgs["mrr"].to_numpy()
    plan = np.select([mrr < 200, mrr < 1000, mrr < 5000], ["starter", "growth", "business"], "enterprise")
    created_seconds = orgs["created_d"].to_numpy() * 86400 - rng.integers(8 * 3600, 18 * 3600, n)
    renewal_in = rng.integers(5, 366, n)
    renewal = _iso_day(end, -renewal_in).astype(object)
    renewal[rng.random(n) < 0.1] = ""
    # Story orgs renew when their story says (renewal_d days ahead; -1: no renewal date).
    pinned = orgs["renewal_d"].to_numpy()
    renewal = np.where(pinned >= 0, _iso_day(end, -np.maximum(pinned, 0)), renewal).astype(object)
    renewal[pinned == -1] = ""
    missing = orgs["scores_missing"].to_numpy()
    return pd.DataFrame({
        "org_id": orgs["org_id"],
        "name": orgs["name"],
        "domain": orgs["domain"],
        "created_at": _iso_time(end, created_seconds),
        "source": orgs["source"],
        "owner": orgs["owner"],
        "plan": plan,
        "seats": ["" if m else str(s) for s, m in zip(orgs["seats"], orgs["seats_missing"])],
        "industry": orgs["industry"],
        "renewal_date": renewal,
        "icp_fit": _fmt_scores(orgs["icp"].to_numpy(), missing),
        "strategic": _fmt_scores(orgs["strategic"].to_numpy(), missing),
        "relationship": _fmt_scores(orgs["relationship"].to_numpy(), missing & (rng.random(n) < 0.7)),
    })


def _subscriptions_csv(orgs: pd.DataFrame, end: dt.date, seed: int) -> pd.DataFrame:
    rng = _rng(seed, 3)
    n = len(orgs)
    pattern = orgs["pattern"].to_numpy()
    mrr = orgs["mrr"].to_numpy()
    created = orgs["created_d"].to_numpy()
    started = np.maximum(created - rng.integers(0, 8, n), 1)
    ended = np.select(
        [pattern == CHURNED, pattern == REACTIVATED],
        [orgs["stop_d"].to_numpy() + rng.integers(0, 5, n), orgs["gap_hi"].to_numpy()],
        -1,
    )
    story = dict(zip(orgs["org_id"], range(n)))
    if "soylent" in story:
        ended[story["soylent"]] = 60
    plan = np.select([mrr < 200, mrr < 1000, mrr < 5000], ["starter", "growth", "business"], "enterprise")
    is_story = np.isin(orgs["org_id"].to_numpy(), [s.org_id for s in STORY_ORGS])
    past_due = (rng.random(n) < 0.03) & ~is_story
    # Billing exports mark an ended subscription canceled and keep its end date; it still
    # counted as MRR before that date (storage.queries.mrr_condition, scoring.revenue).
    status = np.where(pattern == TRIAL, "trialing", np.where(past_due, "past_due", "active"))
    status = np.where(ended >= 0, "canceled", status)
    if "tyrell" in story:  # the card on file was declined
        status[story["tyrell"]] = "past_due"
    rows = {
        "subscription_id": [f"sub-{o}-1" for o in orgs["org_id"]],
        "org_id": orgs["org_id"].to_numpy(),
        "mrr": mrr,
        "started_at": _iso_day(end, started),
        "product": np.full(n, PRODUCT),
        "plan": plan,
        "status": status,
        "ended_at": np.where(ended >= 0, _iso_day(end, np.maximum(ended, 0)), ""),
        "currency": np.full(n, CURRENCY),
    }
    main = pd.DataFrame(rows)

    # Second subscriptions: reactivations, upgrades (wayne) and add-ons.
    extra = []
    react = np.flatnonzero(pattern == REACTIVATED)
    for i in react.tolist():
        extra.append((i, "2", mrr[i] * rng.uniform(0.8, 1.3), orgs["gap_lo"].iat[i], PRODUCT, plan[i]))
    if "wayne" in story:
        w = story["wayne"]
        main.loc[w, "mrr"] = 2000.0
        main.loc[w, "plan"] = "business"
        main.loc[w, "ended_at"] = _iso_day(end, np.array([30]))[0]
        main.loc[w, "status"] = "canceled"  # replaced by the enterprise subscription
        extra.append((w, "2", 3500.0, 30, PRODUCT, "enterprise"))
    addon = np.flatnonzero((rng.random(n) < 0.15) & np.isin(pattern, (GROWING, STEADY)) & (mrr >= 200) & ~is_story)
    for i in addon.tolist():
        extra.append((i, "addon", mrr[i] * rng.uniform(0.1, 0.3), max(int(started[i]) - int(rng.integers(30, 300)), 1),
                      ADDON_PRODUCT, plan[i]))
    second = pd.DataFrame({
        "subscription_id": [f"sub-{orgs['org_id'].iat[i]}-{k}" for i, k, *_ in extra],
        "org_id": [orgs["org_id"].iat[i] for i, *_ in extra],
        "mrr": [m for _, _, m, *_ in extra],
        "started_at": [_iso_day(end, np.array([d]))[0] for *_, d, _, _ in extra],
        "product": [p for *_, p, _ in extra],
        "plan": [pl for *_, pl in extra],
        "status": "active",
        "ended_at": "",
        "currency": CURRENCY,
    })
    table = pd.concat([main, second], ignore_index=True)
    table["mrr"] = [f"{m:.2f}" for m in table["mrr"].round(0)]
    return table.sort_values(["org_id", "subscription_id"], kind="stable").reset_index(drop=True)


def _tickets_csv(orgs: pd.DataFrame, end: dt.date, days: int, seed: int) -> pd.DataFrame:
    rng = _rng(seed, 4)
    rate = orgs["ticket_rate"].to_numpy() * days / 30
    count = rng.poisson(rate)
    idx = np.repeat(np.arange(len(orgs)), count)
    m = len(idx)
    good = orgs["good"].to_numpy()[idx]
    sev_p = np.where(good[:, None], [0.03, 0.15, 0.45, 0.37], [0.12, 0.28, 0.35, 0.25])
    severity = (rng.random(m)[:, None] > np.cumsum(sev_p, axis=1)).sum(axis=1).clip(0, 3)
    window = np.minimum(days, np.minimum(orgs["start_d"].to_numpy(), orgs["created_d"].to_numpy()))[idx]
    opened_s = (rng.random(m) * np.maximum(window, 1) * 86400).astype(np.int64) + 1
    # Severe tickets are closed faster; unhappy customers' tickets linger.
    median_h = np.array([10.0, 30.0, 70.0, 120.0])[severity] * np.where(good, 1.0, 3.0)
    resolve_s = (np.exp(rng.normal(np.log(median_h), 0.9)) * 3600).astype(np.int64)
    closed_s = opened_s - resolve_s
    closed = np.where(closed_s > 0, _iso_time(end, np.maximum(closed_s, 0)), "")
    frame = pd.DataFrame({
        "org_id": orgs["org_id"].to_numpy()[idx],
        "opened_at": _iso_time(end, opened_s),
        "severity": np.array(SEVERITIES)[severity],
        "closed_at": closed,
        "_order": -opened_s,
    })
    frame = pd.concat([frame, _story_tickets(end)], ignore_index=True)
    frame = frame.sort_values(["_order", "org_id"], kind="stable").reset_index(drop=True)
    frame.insert(0, "ticket_id", [f"T-{i:07d}" for i in range(1, len(frame) + 1)])
    return frame.drop(columns="_order")


def _story_tickets(end: dt.date) -> pd.DataFrame:
    rows = [  # org, opened (days before end), severity, closed (days before end or None)
        ("initech", 9.3, "p1", None), ("initech", 4.6, "p1", None), ("initech", 12.2, "p2", None),
        ("initech", 40.5, "p2", 35.1), ("acme", 20.4, "p4", 19.8), ("globex", 6.3, "p3", None),
        ("umbrella", 45.2, "p3", 44.0),
    ]
    opened = np.array([r[1] for r in rows]) * 86400
    return pd.DataFrame({
        "org_id": [r[0] for r in rows],
        "opened_at": _iso_time(end, opened.astype(np.int64)),
        "severity": [r[2] for r in rows],
        "closed_at": [
            "" if r[3] is None else _iso_time(end, np.array([int(r[3] * 86400)]))[0] for r in rows
        ],
        "_order": -opened.astype(np.int64),
    })


def _surveys_csv(orgs: pd.DataFrame, end: dt.date, days: int, seed: int) -> pd.DataFrame:
    rng = _rng(seed, 5)
    n = len(orgs)
    responds = (rng.random(n) < 0.6) & (orgs["pattern"].to_numpy() != DORMANT)
    count = np.where(responds, rng.poisson(1.5, n) + 1, 0)
    story = set(s.org_id for s in STORY_ORGS)
    count[np.isin(orgs["org_id"].to_numpy(), list(story))] = 0
    idx = np.repeat(np.arange(n), count)
    m = len(idx)
    good = orgs["good"].to_numpy()[idx]
    good_p = np.array([1, 1, 1, 1, 2, 3, 5, 10, 20, 30, 26]) / 100
    bad_p = np.array([6, 7, 10, 12, 13, 14, 12, 10, 8, 5, 3]) / 100
    cum = np.where(good[:, None], np.cumsum(good_p), np.cumsum(bad_p))
    score = (rng.random(m)[:, None] > cum).sum(axis=1).clip(0, 10)
    window = min(days, 180)
    seconds = (rng.random(m) * window * 86400).astype(np.int64) + 1
    user = (rng.random(m) * orgs["n_users"].to_numpy()[idx]).astype(int)
    frame = pd.DataFrame({
        "org_id": orgs["org_id"].to_numpy()[idx],
        "score": score.astype(str),
        "responded_at": _iso_time(end, seconds),
        "user_id": np.char.add(np.char.add(orgs["org_id"].to_numpy()[idx].astype(str), "-u"), user.astype(str)),
        "_order": -seconds,
    })
    story_rows = [  # org, score, days before end, user
        ("acme", 9, 20.5, 3), ("acme", 10, 12.2, 7), ("acme", 9, 5.4, 11),
        ("initech", 2, 30.1, 0), ("initech", 3, 16.7, 1), ("initech", 4, 6.2, 2),
        ("globex", 7, 25.0, 1), ("umbrella", 6, 40.0, 2), ("wayne", 9, 15.0, 4), ("stark", 8, 10.0, 2),
    ]
    secs = np.array([int(r[2] * 86400) for r in story_rows], dtype=np.int64)
    story_frame = pd.DataFrame({
        "org_id": [r[0] for r in story_rows],
        "score": [str(r[1]) for r in story_rows],
        "responded_at": _iso_time(end, secs),
        "user_id": [f"{r[0]}-u{r[3]}" for r in story_rows],
        "_order": -secs,
    })
    frame = pd.concat([frame, story_frame], ignore_index=True)
    frame = frame.drop_duplicates(["org_id", "user_id", "responded_at", "score"])
    frame = frame.sort_values(["_order", "org_id"], kind="stable")
    return frame.drop(columns="_order").reset_index(drop=True)


# ---------------------------------------------------------------------------------------
# Usage events, one batch of orgs at a time
# ---------------------------------------------------------------------------------------

def _usage_multiplier(batch: pd.DataFrame, d: np.ndarray) -> np.ndarray:
    """Relative intensity per (org, day): recent-window step, slow decline, silence."""
    col = lambda name: batch[name].to_numpy()[:, None]  # noqa: E731
    mult = np.where(d <= RECENT_DAYS, col("recent_mult"), 1.0)
    span = col("decline_span")
    fade = np.clip((span - d) / span, 0.0, 1.0)
    mult = mult * (1.0 - col("decline") * fade) ** col("decline_power")
    alive = (d <= col("start_d")) & (d > col("stop_d")) & ~((d > col("gap_lo")) & (d <= col("gap_hi")))
    return np.where(alive, mult, 0.0)


def _evenly_spread(rate: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """1 on the days an org is active, 0 on the others, for expected daily rates in [0, 1]
    (org × day): the rates are summed day by day and a day is active when the running sum
    passes a whole number, from a random starting phase per org. An org at 0.6 on weekdays
    is active on three weekdays in five, week in, week out, and any fortnight holds the
    expected number of active days give or take one."""
    phase = rng.random((rate.shape[0], 1))
    passed = np.floor(np.cumsum(rate, axis=1) + phase)
    return np.diff(passed, axis=1, prepend=0.0).clip(0.0, 1.0)


def _steadied(drawn: np.ndarray, mean: np.ndarray, jitter: np.ndarray, active: np.ndarray) -> np.ndarray:
    """Daily counts (org × day) pulled towards their mean on active days: ``jitter`` 1 keeps
    them as drawn, 0.2 keeps a fifth of their spread (a steady customer's Monday looks much
    like last Monday). Rounded by carrying each day's fraction over to the next, so an
    average of 1.4 users a day stays 1.4 over a fortnight rather than becoming 1."""
    pulled = np.where(active, np.maximum(0.0, mean + (drawn - mean) * jitter), 0.0)
    carried = np.floor(np.cumsum(pulled, axis=1) + 0.5)
    rounded = np.diff(carried, axis=1, prepend=0.0).astype(np.int64)
    return np.where(jitter >= 1.0, drawn, rounded)


def _batch_events(batch: pd.DataFrame, end: dt.date, days: int, rng: np.random.Generator) -> pd.DataFrame:
    b = len(batch)
    d = np.arange(days, 0, -1)[None, :]  # days before the end date, oldest first
    dates = np.datetime64(end, "D") - np.arange(days, 0, -1).astype("timedelta64[D]")
    day_of_week = (dates.astype("datetime64[D]").astype(np.int64) + 3) % 7  # Monday = 0; 1970-01-01 was a Thursday
    weekday = (day_of_week < 5)[None, :]
    mult = _usage_multiplier(batch, d)
    usual = batch["p_weekday"].to_numpy()[:, None] * np.where(weekday, 1.0, WEEKEND_ACTIVE_FACTOR)
    p = usual * np.minimum(1.0, np.sqrt(mult))
    rhythm = batch["rhythm"].to_numpy()[:, None] > 0
    if rhythm.any():  # never for a story org's batch: its random stream stays as it was
        # A growing org also comes in on more days, up to every day.
        rate = np.minimum(1.0, usual * np.sqrt(mult))
        p = np.where(rhythm, _evenly_spread(rate, rng), p)
    schedule = batch["schedule"].to_numpy()[:, None]
    p = np.where(schedule > 0, (schedule >> day_of_week[None, :]) & 1, p)
    active = (rng.random((b, days)) < p) & (mult > 0)
    force = batch["force_d"].to_numpy()
    forced_rows = np.flatnonzero(force > 0)
    active[forced_rows, days - force[forced_rows]] |= mult[forced_rows, days - force[forced_rows]] > 0

    n_users = batch["n_users"].to_numpy()[:, None]
    share = batch["users_frac"].to_numpy()[:, None] * np.sqrt(mult) * np.where(weekday, 1.0, WEEKEND_USERS_FACTOR)
    share = np.clip(share, 0.0, 1.0)
    jitter = batch["jitter"].to_numpy()[:, None]
    users = np.maximum(1, _steadied(rng.binomial(np.broadcast_to(n_users, (b, days)), share), n_users * share, jitter,
                                    active))
    # A scheduled org follows its schedule exactly: every user, the expected volume.
    scheduled = schedule > 0
    users = np.where(active, np.where(scheduled, n_users, users), 0)
    lam = batch["lam"].to_numpy()[:, None] * np.sqrt(mult)
    extra = _steadied(rng.poisson(users * lam), users * lam, jitter, active)
    events = users + np.where(scheduled, np.round(users * lam).astype(np.int64), extra)
    merged = np.zeros_like(events)  # events folded into the day's last row (its count)
    if rhythm.any():
        fold = rhythm & (rng.random((b, days)) < ORDINARY_MERGED_DAYS)
        merged = np.where(fold, np.minimum(extra, rng.integers(1, 5, (b, days))), 0)

    rows = events - merged
    org_i, day_i = np.nonzero(rows)
    per_day = rows[org_i, day_i]
    total = int(per_day.sum())
    ev_org = np.repeat(org_i, per_day)
    ev_day = np.repeat(day_i, per_day)
    k = np.repeat(users[org_i, day_i], per_day)
    rank = np.arange(total) - np.repeat(np.cumsum(per_day) - per_day, per_day)
    # Every user active that day gets at least one event; the rest spread at random.
    slot = np.where(rank < k, rank, (rng.random(total) * k).astype(np.int64))
    offset = np.repeat(rng.integers(0, 1 << 30, len(org_i)), per_day)
    user = (offset + slot) % n_users[:, 0][ev_org]
    breadth = batch["breadth"].to_numpy()[ev_org]
    feature = np.minimum((breadth * rng.random(total) ** 1.6).astype(np.int64), breadth - 1)
    # Working hours, UTC: 07:00-19:00 plus a thin tail.
    second = (7 * 3600 + rng.random(total) * 12 * 3600 + rng.normal(0, 1800, total)).astype(np.int64)
    second = np.clip(second, 0, 86399)
    count_share = batch["count_share"].to_numpy()[ev_org]
    batched = (rng.random(total) < count_share) & (batch["schedule"].to_numpy()[ev_org] == 0)
    count = np.where(batched, rng.integers(2, 6, total), 1)
    count[np.cumsum(per_day) - 1] += merged[org_i, day_i]

    order = np.lexsort((second, ev_day, ev_org))
    ev_org, ev_day, user, feature, second, count = (a[order] for a in (ev_org, ev_day, user, feature, second, count))
    stamps = dates[ev_day].astype("datetime64[s]") + second.astype("timedelta64[s]")
    org_ids = batch["org_id"].to_numpy().astype(str)[ev_org]
    return pd.DataFrame({
        "org_id": org_ids,
        "user_id": np.char.add(np.char.add(org_ids, "-u"), user.astype(str)),
        "event": np.array(FEATURES)[feature],
        "timestamp": np.char.add(np.datetime_as_string(stamps, unit="s"), "Z"),
        "count": count,
    })


def _event_batches(orgs: pd.DataFrame, seed: int) -> Iterator[tuple[pd.DataFrame, np.random.Generator]]:
    """Each story org alone with its own random stream (so tuning one story, or changing
    --orgs, never changes another's events), then ordinary orgs in batches."""
    n_story = len(STORY_ORGS)
    for i in range(n_story):
        yield orgs.iloc[i : i + 1], _rng(seed, 9, i)
    for b, start in enumerate(range(n_story, len(orgs), ORG_BATCH)):
        yield orgs.iloc[start : start + ORG_BATCH], _rng(seed, 10, b)


def _write_events(orgs: pd.DataFrame, path: Path, end: dt.date, days: int, seed: int,
                  on_batch: Callable[[int], object] | None = None) -> int:
    written = 0
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write("org_id,user_id,event,timestamp,count,event_id\n")
        for batch, rng in _event_batches(orgs, seed):
            events = _batch_events(batch, end, days, rng)
            if on_batch:
                on_batch(len(batch))
            if events.empty:  # e.g. hooli alone: never active
                continue
            serial = np.arange(written + 1, written + len(events) + 1)
            events["event_id"] = np.char.add("ev", np.char.zfill(serial.astype(str), 10))
            events.to_csv(fh, header=False, index=False, lineterminator="\n")
            written += len(events)
    return written


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    frame.to_csv(path, index=False, lineterminator="\n")


def generate_demo_data(
    out_dir: str | Path = DEFAULT_OUT,
    *,
    orgs: int = DEFAULT_ORGS,
    days: int = DEFAULT_DAYS,
    seed: int = DEFAULT_SEED,
    end_date: dt.date | None = None,
    on_batch: Callable[[int], object] | None = None,
) -> DemoSummary:
    """Write orgs.csv, subscriptions.csv, support_tickets.csv, survey_responses.csv and
    usage_events.csv to ``out_dir``. Usage covers the ``days`` days before ``end_date``
    (default today, UTC); ``on_batch`` is told how many orgs each event batch covered."""
    if days < 30:
        raise ValueError("--days must be at least 30 (two 14-day windows and some history)")
    end = end_date or dt.datetime.now(dt.timezone.utc).date()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    org_frame = _orgs(orgs, seed, days, end)
    _write_csv(_orgs_csv(org_frame, end, seed), out / "orgs.csv")
    subs = _subscriptions_csv(org_frame, end, seed)
    _write_csv(subs, out / "subscriptions.csv")
    tickets = _tickets_csv(org_frame, end, days, seed)
    _write_csv(tickets, out / "support_tickets.csv")
    surveys = _surveys_csv(org_frame, end, days, seed)
    _write_csv(surveys, out / "survey_responses.csv")
    events = _write_events(org_frame, out / "usage_events.csv", end, days, seed, on_batch)
    return DemoSummary(out, len(org_frame), len(subs), len(tickets), len(surveys), events, end)
