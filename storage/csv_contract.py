"""The import's column contract (docs/inputs.md): which files, which columns, what each may hold.

One declarative table per input so the validator, the error messages and the docs all read
the same list; a column added here is accepted, parsed and checked everywhere at once.

Every file may be CSV or Parquet: ``orgs.csv`` and ``orgs.parquet`` follow the same
contract (``table_for_file_name``). Parquet values are read as text and validated exactly
like CSV cells, so both formats accept and reject the same values.
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
CURRENCY = "currency"  # an ISO 4217 code (storage.validation.CURRENCY_CODES)

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
    # Columns that together may appear once per file (a repeat is an error, not a merge):
    # the daily rollups' (org_id, day[, user_id | feature]).
    unique_key: tuple[str, ...] = ()

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

# Daily rollups made elsewhere (a warehouse): one row per org and UTC day, plus who was
# active and which features were used that day. They replace what is stored for each org-day
# they name (storage.daily_import), so the three files come together. The scan counts
# distinct users and features over 14-day windows, which daily counts can't give: hence the
# per-user and per-feature files, the same rows the import builds from raw events.
DAILY = TableSpec(
    key="usage_daily",
    label="daily usage",
    file_names=("usage_daily.csv",),
    unique_key=("org_id", "day"),
    columns=(
        _id("org_id"),
        ColumnSpec("day", DATE, required=True),
        # The sum of the day's event counts; equal to the sums of the two files below.
        ColumnSpec("events", COUNT, required=True, lo=1),
        # The day's latest event, within the day: "last seen" without raw events.
        ColumnSpec("last_event_at", TIMESTAMP, required=True),
    ),
)

DAILY_USERS = TableSpec(
    key="usage_daily_users",
    label="daily usage per user",
    file_names=("usage_daily_users.csv",),
    unique_key=("org_id", "day", "user_id"),
    columns=(
        _id("org_id"),
        ColumnSpec("day", DATE, required=True),
        _id("user_id"),
        ColumnSpec("events", COUNT, required=True, lo=1),
    ),
)

DAILY_FEATURES = TableSpec(
    key="usage_daily_features",
    label="daily usage per feature",
    file_names=("usage_daily_features.csv",),
    unique_key=("org_id", "day", "feature"),
    columns=(
        _id("org_id"),
        ColumnSpec("day", DATE, required=True),
        ColumnSpec("feature", TEXT, required=True, max_len=ID_MAX_LEN),
        ColumnSpec("events", COUNT, required=True, lo=1),
    ),
)

DAILY_TABLES: tuple[TableSpec, ...] = (DAILY, DAILY_USERS, DAILY_FEATURES)

# Import order: orgs first so every later file can refer to orgs of the same import.
TABLES: tuple[TableSpec, ...] = (ORGS, SUBSCRIPTIONS, TICKETS, SURVEYS, EVENTS, *DAILY_TABLES)

# The formats a file may come in, told apart by the file name's extension.
CSV_SUFFIX = ".csv"
PARQUET_SUFFIX = ".parquet"

# Pairs (column, earlier column) where the first must not be before the second.
ORDERED_COLUMNS: dict[str, tuple[str, str]] = {
    "subscriptions": ("ended_at", "started_at"),
    "tickets": ("closed_at", "opened_at"),
}


def table_for_file_name(file_name: str) -> TableSpec | None:
    """The contract a file follows, from its name: ``orgs.csv`` or ``orgs.parquet``, any case."""
    lowered = file_name.lower()
    if lowered.endswith(PARQUET_SUFFIX):
        lowered = lowered[: -len(PARQUET_SUFFIX)] + CSV_SUFFIX
    for spec in TABLES:
        if lowered in spec.file_names:
            return spec
    return None


def accepted_file_names() -> list[str]:
    return [name for spec in TABLES for name in spec.file_names]
