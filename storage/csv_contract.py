"""The import's column contract (docs/inputs.md): which files, which columns, what each may hold.

One declarative table per input so the validator, the error messages and the docs all read
the same list; a column added here is accepted, parsed and checked everywhere at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.vocabulary import ORG_SOURCES, SEVERITIES, SUBSCRIPTION_STATUSES

# Column kinds understood by storage.validation.
TEXT = "text"
CHOICE = "choice"
TIMESTAMP = "timestamp"  # ISO date or datetime, stored as UTC
DATE = "date"  # ISO date (a datetime is accepted and taken as its UTC date)
MONEY = "money"  # non-negative amount, 2 decimals
COUNT = "count"  # non-negative whole number (at least ``lo`` when given)
SCORE = "score"  # number within [lo, hi]
CURRENCY = "currency"  # three-letter ISO 4217 code

ID_MAX_LEN = 200  # String(200) in storage.models for every external id, user and feature
NAME_MAX_LEN = 500
SHORT_TEXT_MAX_LEN = 200
OWNER_MAX_LEN = 320


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    kind: str = TEXT
    required: bool = False
    max_len: int | None = None
    choices: tuple[str, ...] = ()
    lo: float | None = None  # SCORE: the range; COUNT: the minimum, when above 0
    hi: float | None = None
    integer: bool = False
    # Model attribute the value lands in, when it differs from the CSV name.
    attr: str | None = None
    # Value stored when the cell is empty (None = NULL).
    default: object = None
    # False when the value is resolved into another column rather than stored as is
    # (orgs.application becomes orgs.application_id).
    stored: bool = True

    @property
    def target(self) -> str:
        return self.attr or self.name


@dataclass(frozen=True)
class TableSpec:
    key: str  # short name used in reports: orgs, subscriptions, tickets, surveys, events
    label: str  # what a person calls it in messages
    file_names: tuple[str, ...]  # canonical name first, then accepted aliases
    columns: tuple[ColumnSpec, ...]
    id_column: str | None = None  # upsert key; duplicates inside one file are errors
    # Tables without an id: the columns that make a row the same row (re-import = no-op).
    natural_key: tuple[str, ...] = ()

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> ColumnSpec:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)


def _id(name: str, required: bool = True) -> ColumnSpec:
    return ColumnSpec(name, TEXT, required=required, max_len=ID_MAX_LEN)


def _score(name: str, attr: str | None = None) -> ColumnSpec:
    return ColumnSpec(name, SCORE, lo=0, hi=100, attr=attr)


ORGS = TableSpec(
    key="orgs",
    label="orgs",
    file_names=("orgs.csv",),
    id_column="org_id",
    columns=(
        _id("org_id"),
        ColumnSpec("name", TEXT, required=True, max_len=NAME_MAX_LEN),
        ColumnSpec("application", TEXT, max_len=SHORT_TEXT_MAX_LEN, stored=False),
        ColumnSpec("domain", TEXT, max_len=NAME_MAX_LEN),
        ColumnSpec("created_at", TIMESTAMP),
        ColumnSpec("source", CHOICE, choices=ORG_SOURCES),
        ColumnSpec("owner", TEXT, max_len=OWNER_MAX_LEN),
        ColumnSpec("plan", TEXT, max_len=SHORT_TEXT_MAX_LEN),
        ColumnSpec("seats", COUNT),
        ColumnSpec("industry", TEXT, max_len=SHORT_TEXT_MAX_LEN),
        ColumnSpec("renewal_date", DATE),
        _score("icp_fit"),
        _score("strategic"),
        _score("relationship", attr="relationship_score"),
    ),
)

SUBSCRIPTIONS = TableSpec(
    key="subscriptions",
    label="subscriptions",
    file_names=("subscriptions.csv",),
    id_column="subscription_id",
    columns=(
        _id("subscription_id"),
        _id("org_id"),
        ColumnSpec("mrr", MONEY, required=True),
        ColumnSpec("started_at", DATE, required=True),
        ColumnSpec("product", TEXT, max_len=SHORT_TEXT_MAX_LEN),
        ColumnSpec("plan", TEXT, max_len=SHORT_TEXT_MAX_LEN),
        ColumnSpec("status", CHOICE, choices=SUBSCRIPTION_STATUSES, default="active"),
        ColumnSpec("ended_at", DATE),
        ColumnSpec("currency", CURRENCY),
    ),
)

TICKETS = TableSpec(
    key="tickets",
    label="support tickets",
    file_names=("support_tickets.csv", "tickets.csv"),
    id_column="ticket_id",
    columns=(
        _id("ticket_id"),
        _id("org_id"),
        ColumnSpec("opened_at", TIMESTAMP, required=True),
        ColumnSpec("severity", CHOICE, required=True, choices=SEVERITIES),
        ColumnSpec("closed_at", TIMESTAMP),
    ),
)

SURVEYS = TableSpec(
    key="surveys",
    label="survey responses",
    file_names=("survey_responses.csv", "surveys.csv"),
    natural_key=("org_id", "user_id", "responded_at", "score"),  # uq_survey_row in storage.models
    columns=(
        _id("org_id"),
        ColumnSpec("score", SCORE, required=True, lo=0, hi=10, integer=True),
        ColumnSpec("responded_at", TIMESTAMP, required=True),
        ColumnSpec("user_id", TEXT, max_len=ID_MAX_LEN, default=""),
    ),
)

EVENTS = TableSpec(
    key="events",
    label="usage events",
    file_names=("usage_events.csv", "events.csv"),
    columns=(
        _id("org_id"),
        _id("user_id"),
        ColumnSpec("event", TEXT, required=True, max_len=ID_MAX_LEN),
        ColumnSpec("timestamp", TIMESTAMP, required=True),
        # An event row stands for `count` events; 0 would be a row that stands for none (yet
        # still names a user and a time), so it is a bad value, not a silent no-op.
        ColumnSpec("count", COUNT, default=1, lo=1),
        ColumnSpec("event_id", TEXT, max_len=ID_MAX_LEN),
    ),
)

# Import order: orgs first so every later file can refer to orgs of the same import.
TABLES: tuple[TableSpec, ...] = (ORGS, SUBSCRIPTIONS, TICKETS, SURVEYS, EVENTS)

# Pairs (column, earlier column) where the first must not be before the second.
ORDERED_COLUMNS: dict[str, tuple[str, str]] = {
    "subscriptions": ("ended_at", "started_at"),
    "tickets": ("closed_at", "opened_at"),
}


def table_for_file_name(file_name: str) -> TableSpec | None:
    lowered = file_name.lower()
    for spec in TABLES:
        if lowered in spec.file_names:
            return spec
    return None


def accepted_file_names() -> list[str]:
    return [name for spec in TABLES for name in spec.file_names]
