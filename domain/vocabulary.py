"""The product's words: signal types, statuses, case types, health components, bands.

Everything above this module (scoring, storage, services, the Slack app and the command
line) speaks in these identifiers; they are stored in the database, carried in Slack
buttons and typed by people in filters, so they change only with a migration.
"""

from __future__ import annotations

DEFAULT_APPLICATION = "default"

# Signal types: stored identifiers, display names, short names used by filters.
REVENUE_AT_RISK = "revenue_at_risk"
USAGE_DROP = "usage_drop"
INACTIVE_PAYING = "inactive_paying"
EXPANSION_CANDIDATE = "expansion_candidate"
SIGNAL_TYPES = (REVENUE_AT_RISK, USAGE_DROP, INACTIVE_PAYING, EXPANSION_CANDIDATE)
# Signals that stand for losing revenue (case: risk) and the one that stands for growth.
RISK_SIGNAL_TYPES = (REVENUE_AT_RISK, USAGE_DROP, INACTIVE_PAYING)
GROWTH_SIGNAL_TYPES = (EXPANSION_CANDIDATE,)
SIGNAL_LABELS = {
    REVENUE_AT_RISK: "Revenue at risk",
    USAGE_DROP: "Usage drop",
    INACTIVE_PAYING: "Inactive paying",
    EXPANSION_CANDIDATE: "Expansion candidate",
}
# The signals that mean "at risk": an org holding one is counted in MRR at risk (unless its
# only one is Inactive paying on an org not active yet, which is onboarding) and never holds
# an Expansion candidate at the same time.
RISK_SIGNAL_TYPES = (REVENUE_AT_RISK, USAGE_DROP, INACTIVE_PAYING)
SIGNAL_SHORT_NAMES = {
    "risk": REVENUE_AT_RISK,
    "drop": USAGE_DROP,
    "inactive": INACTIVE_PAYING,
    "expansion": EXPANSION_CANDIDATE,
}

# Signal life cycle. "Open" means one of the first three: at most one open per (org, type).
STATUS_ACTIVE = "active"
STATUS_DISMISSED = "dismissed"
STATUS_SNOOZED = "snoozed"
STATUS_RESOLVED = "resolved"
OPEN_STATUSES = (STATUS_ACTIVE, STATUS_DISMISSED, STATUS_SNOOZED)
SIGNAL_STATUSES = (*OPEN_STATUSES, STATUS_RESOLVED)

CASE_TYPES = ("risk", "onboarding", "expansion")

HEALTH_COMPONENTS = (
    "activity",
    "breadth",
    "seat_utilization",
    "trend",
    "support",
    "sentiment",
)
BANDS = ("red", "yellow", "green")
SEVERITIES = ("p1", "p2", "p3", "p4")
SUBSCRIPTION_STATUSES = ("active", "trialing", "past_due", "canceled")
MRR_EXCLUDED_STATUSES = ("trialing", "canceled")
ORG_SOURCES = ("signup", "import")

SNOOZE_CHOICES_DAYS = (7, 28)

# Revenue × Health cells: stored keys, in grid order (MRR high row: health low, high; then
# MRR low row), and what people read.
CELL_REVENUE_AT_RISK = "revenue_at_risk"
CELL_CHAMPIONS = "champions"
CELL_WATCH = "watch"
CELL_EXPANSION = "expansion"
CELL_KEYS = (CELL_REVENUE_AT_RISK, CELL_CHAMPIONS, CELL_WATCH, CELL_EXPANSION)
# The high-MRR, low-health cell is called Retention, not "Revenue at risk": "at risk" means
# one thing in this product — an org holding a risk signal — and an org at health 55 in
# this cell holds none. The key stays revenue_at_risk: filters and the buttons of digests
# already posted carry it.
CELL_LABELS = {
    CELL_REVENUE_AT_RISK: "Retention",
    CELL_CHAMPIONS: "Champions",
    CELL_WATCH: "Watch",
    CELL_EXPANSION: "Expansion",
}
HIGH_MRR_CELLS = (CELL_REVENUE_AT_RISK, CELL_CHAMPIONS)

# Value × Potential quadrants and account tiers.
STARS = "Stars"
GROWTH_BETS = "Growth bets"
CASH_COWS = "Cash cows"
MAINTENANCE = "Maintenance"
QUADRANTS = (STARS, GROWTH_BETS, CASH_COWS, MAINTENANCE)
TIERS = ("Tier 1", "Tier 2", "Tier 3", "Tier 4")
# The inputs of Value and of Potential (weights in the [tiers] configuration).
TIER_VALUE_INPUTS = ("revenue", "tenure", "engagement", "strategic")
TIER_POTENTIAL_INPUTS = ("expansion", "fit", "relationship", "timing")
TIER_INPUTS = TIER_VALUE_INPUTS + TIER_POTENTIAL_INPUTS
