"""Action ids, block ids and the values a click carries back — written and read here only.

Slack sends back, with each click, the element's `action_id`, its `block_id` and the
button `value` or the chosen option's `value`. Everything a handler needs (which org,
which signals, which case type) travels in those strings, so a click never depends on
server-side session state. Formats:

* item blocks:       block_id "item|<org_id>" (section) and "item_actions|<org_id>" (actions);
                     on replies to a slash command "qitem_actions|<base64 command>|<org_id>"
* Open:              action_id "org_open",        value "<org_id>"
* Tag case:          action_id "case_tag",        option value "<case_type>|<org_id>"
* Dismiss / snooze:  action_id "signal_dismiss",  option value "dismiss|<id>,<id>" or
                     "snooze<days>|<id>,<id>" (org from the block_id)
* Pick among matches: action_id "org_pick",       value "<org_id>"
* List a cell's orgs: action_id "cell_list",      value "<cell key>"

Org ids are split off after the first "|" only, so an org id may itself contain "|".
An option value is at most 150 characters: when "<case>|<org_id>" would be longer, the
value is just "<case>" and `parse_action` takes the org from the block_id.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from domain.vocabulary import CASE_TYPES, SNOOZE_CHOICES_DAYS

from bot import limits

ORG_OPEN = "org_open"
CASE_TAG = "case_tag"
SIGNAL_DISMISS = "signal_dismiss"
ORG_PICK = "org_pick"
# "List orgs" on a Revenue × Health cell (digest, Home tab); value: the cell key.
CELL_LIST = "cell_list"
ITEM_ACTION_IDS = (ORG_OPEN, CASE_TAG, SIGNAL_DISMISS)

ITEM_BLOCK_PREFIX = "item"
ITEM_ACTIONS_BLOCK_PREFIX = "item_actions"
QUERY_ACTIONS_BLOCK_PREFIX = "qitem_actions"
SEP = "|"

DISMISS = "dismiss"
SNOOZE = "snooze"

ORG_DETAIL_CALLBACK_ID = "org_detail"


class ActionValueError(ValueError):
    """A click payload this app did not produce (or produced by an older version)."""


def item_block_id(org_id: str) -> str:
    return f"{ITEM_BLOCK_PREFIX}{SEP}{org_id}"


def _encode_query(query: str) -> str:
    return base64.urlsafe_b64encode(query.encode("utf-8")).decode("ascii").rstrip("=")


def _decode_query(token: str) -> str | None:
    try:
        return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None


def item_actions_block_id(org_id: str, query: str | None = None) -> str:
    """"item_actions|<org_id>", or, on a reply to a slash command, also the command itself:
    "qitem_actions|<base64 of "/signals top 5 risk">|<org_id>".

    Slack sends no blocks back for a click on an ephemeral message, only the clicked block's
    id; carrying the command there lets the click rebuild exactly that reply in place. When
    the command is too long to fit, the plain form is used.
    """
    if query:
        block_id = f"{QUERY_ACTIONS_BLOCK_PREFIX}{SEP}{_encode_query(query)}{SEP}{org_id}"
        if len(block_id) <= limits.BLOCK_ID_MAX:
            return block_id
    return f"{ITEM_ACTIONS_BLOCK_PREFIX}{SEP}{org_id}"


def org_id_fits(org_id: str) -> bool:
    """Whether the org id fits the longest block id we build from it."""
    return 0 < len(item_actions_block_id(org_id)) <= limits.BLOCK_ID_MAX


def is_item_actions_block(block_id: str | None, org_id: str) -> bool:
    prefix = (block_id or "").partition(SEP)[0]
    return prefix in (ITEM_ACTIONS_BLOCK_PREFIX, QUERY_ACTIONS_BLOCK_PREFIX) and org_from_block_id(block_id) == org_id


def org_from_block_id(block_id: str | None) -> str | None:
    if not block_id:
        return None
    prefix, sep, rest = block_id.partition(SEP)
    if sep and prefix == QUERY_ACTIONS_BLOCK_PREFIX:
        _token, sep2, org_id = rest.partition(SEP)
        return org_id if sep2 and org_id else None
    if sep and prefix in (ITEM_BLOCK_PREFIX, ITEM_ACTIONS_BLOCK_PREFIX) and rest:
        return rest
    return None


def query_from_block_id(block_id: str | None) -> str | None:
    """The slash command a reply's buttons came from, when the block id carries it."""
    prefix, sep, rest = (block_id or "").partition(SEP)
    if prefix != QUERY_ACTIONS_BLOCK_PREFIX or not sep:
        return None
    token = rest.partition(SEP)[0]
    return _decode_query(token)


def case_value(case_type: str, org_id: str) -> str:
    value = f"{case_type}{SEP}{org_id}"
    return value if len(value) <= limits.OPTION_VALUE_MAX else case_type


def dismiss_verbs() -> tuple[str, ...]:
    return (DISMISS, *(f"{SNOOZE}{days}" for days in SNOOZE_CHOICES_DAYS))


def dismiss_value(verb: str, signal_ids: Sequence[int]) -> str:
    if verb not in dismiss_verbs():
        raise ValueError(f"unknown dismiss verb {verb!r}")
    return f"{verb}{SEP}{','.join(str(int(i)) for i in signal_ids)}"


@dataclass(frozen=True)
class ItemAction:
    """What a click on an item asks for, decoded from action_id, block_id and value."""

    action_id: str
    org_id: str
    case_type: str | None = None  # case_tag
    verb: str | None = None  # signal_dismiss: "dismiss" or "snooze"
    snooze_days: int | None = None
    signal_ids: tuple[int, ...] = ()


def _selected_value(action: Mapping[str, Any]) -> str | None:
    if action.get("selected_option"):
        return action["selected_option"].get("value")
    return action.get("value")


def parse_action(action: Mapping[str, Any]) -> ItemAction:
    """Decode one element of a block_actions payload's `actions` list (Bolt's `action`)."""
    action_id = action.get("action_id")
    value = _selected_value(action)
    block_org = org_from_block_id(action.get("block_id"))
    if action_id in (ORG_OPEN, ORG_PICK):
        org_id = value or block_org
        if not org_id:
            raise ActionValueError(f"{action_id}: no org id in value or block_id")
        return ItemAction(action_id=action_id, org_id=org_id)
    if not value:
        raise ActionValueError(f"{action_id}: no value")
    verb, _, rest = value.partition(SEP)
    if action_id == CASE_TAG:
        if verb not in CASE_TYPES:
            raise ActionValueError(f"case_tag: unknown case type {verb!r}")
        org_id = rest or block_org
        if not org_id:
            raise ActionValueError("case_tag: no org id in value or block_id")
        return ItemAction(action_id=action_id, org_id=org_id, case_type=verb)
    if action_id == SIGNAL_DISMISS:
        if verb not in dismiss_verbs():
            raise ActionValueError(f"signal_dismiss: unknown choice {verb!r}")
        if not block_org:
            raise ActionValueError("signal_dismiss: no org id in block_id")
        try:
            ids = tuple(int(part) for part in rest.split(",") if part)
        except ValueError as exc:
            raise ActionValueError(f"signal_dismiss: bad signal ids {rest!r}") from exc
        if not ids:
            raise ActionValueError("signal_dismiss: no signal ids")
        days = int(verb[len(SNOOZE):]) if verb.startswith(SNOOZE) else None
        return ItemAction(
            action_id=action_id,
            org_id=block_org,
            verb=SNOOZE if days else DISMISS,
            snooze_days=days,
            signal_ids=ids,
        )
    raise ActionValueError(f"unknown action_id {action_id!r}")
