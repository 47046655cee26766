"""Which configuration each scan ran with, and what changed between them.

Every scan stores the configuration in force (defaults and file together) once, by its
fingerprint, and points its run at it (``record_config``). So a score's history can say
whether a move came from the data or from a change of settings (``services.org_history``),
and ``saas-tracker config history`` lists each change: which keys, from what to what, first
used when and by whom (the login and host of the process whose scan first ran with it — the
file itself does not say who edited it).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import getpass
import hashlib
import json
import socket
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from domain.config import Config
from storage import config_versions

# The settings a health score reads: a change of any other key cannot move it.
HEALTH_SECTIONS = ("scan", "health")


def settings_of(cfg: Config) -> dict[str, Any]:
    """The configuration as plain JSON values (what is stored)."""
    return json.loads(json.dumps(dataclasses.asdict(cfg)))


def fingerprint(settings: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


# The settings an org's segments (cell, tier, quadrant, case suggestion) read, with the health
# and signals they rest on: a change of any other key (Slack, playbooks, reviews, backtest)
# leaves the segments a scan stored valid.
SEGMENT_SECTIONS = ("scan", "health", "signals", "priority", "segments", "tiers")
_FINGERPRINTS: dict[str, str] = {}


def segments_fingerprint(cfg: Config) -> str:
    """The fingerprint of ``SEGMENT_SECTIONS`` of ``cfg``, worked out once per configuration
    in this process: stored segments answer for a configuration with the same one."""
    key = repr(cfg)
    found = _FINGERPRINTS.get(key)
    if found is None:
        settings = settings_of(cfg)
        found = _FINGERPRINTS[key] = fingerprint({k: settings[k] for k in SEGMENT_SECTIONS})
    return found


def this_process() -> str:
    """Who runs this process, as the history shows it: login@host."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no login name in some containers
        user = "unknown"
    return f"{user}@{socket.gethostname()}"[:200]


def record_config(session: Session, cfg: Config, now: dt.datetime, by: str | None = None) -> int:
    """The stored id of `cfg`, storing it first when no scan has run with it yet."""
    settings = settings_of(cfg)
    return config_versions.version_id(session, fingerprint(settings), settings, now, by or this_process())


def flatten(settings: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"health": {"weights": {"activity": 30}}} → {"health.weights.activity": 30}; lists stay whole."""
    out: dict[str, Any] = {}
    for key, value in settings.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict):
            out |= flatten(value, name)
        else:
            out[name] = value
    return out


@dataclass(frozen=True)
class ConfigChange:
    key: str  # "health.weights.activity"
    before: Any
    after: Any

    @property
    def text(self) -> str:
        return f"{self.key} {_value_text(self.before)} → {_value_text(self.after)}"

    @property
    def moves_health(self) -> bool:
        return self.key.split(".", 1)[0] in HEALTH_SECTIONS


def _value_text(value: Any, limit: int = 60) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, float) and value.is_integer():
        text = f"{value:g}"
    elif isinstance(value, (bool, int, float)):
        text = json.dumps(value)
    else:
        text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def changes_between(before: dict[str, Any] | None, after: dict[str, Any]) -> list[ConfigChange]:
    """Every key whose value differs, in key order (keys only one side has included)."""
    old, new = flatten(before or {}), flatten(after)
    return [ConfigChange(k, old.get(k), new.get(k)) for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]


@dataclass(frozen=True)
class ConfigHistoryEntry:
    """A run of consecutive scans with one configuration, and what it changed from the
    configuration of the scans before it."""

    version_id: int
    recorded_at: dt.datetime  # when this configuration was first stored
    recorded_by: str  # login@host of the process whose scan first ran with it
    scans: int
    first_scan: dt.datetime  # as-of times of the first and last scan of the run
    last_scan: dt.datetime
    changes: tuple[ConfigChange, ...]  # from the previous run's configuration; () for the first run
    first: bool


def config_history(session: Session, application_id: int) -> list[ConfigHistoryEntry]:
    """The configurations the application's scans ran with, in scan order: a new entry each
    time a scan ran with another configuration than the scan before it (going back to an
    earlier file is a change too)."""
    runs: list[list[Any]] = []  # [version id, scans, first as-of, last as-of]
    for vid, as_of in config_versions.scan_configs(session, application_id):
        if runs and runs[-1][0] == vid:
            runs[-1][1] += 1
            runs[-1][3] = as_of
        else:
            runs.append([vid, 1, as_of, as_of])
    stored = config_versions.versions(session, sorted({r[0] for r in runs}))
    entries: list[ConfigHistoryEntry] = []
    previous: dict[str, Any] | None = None
    for vid, scans, first, last in runs:
        version = stored[vid]
        entries.append(ConfigHistoryEntry(
            version_id=vid, recorded_at=version.recorded_at, recorded_by=version.recorded_by, scans=scans,
            first_scan=first, last_scan=last,
            changes=tuple(changes_between(previous, version.settings)) if previous is not None else (),
            first=previous is None,
        ))
        previous = version.settings
    return entries
