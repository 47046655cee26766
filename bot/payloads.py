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
* Add note:          action_id "note_open",       value "<org_id>" (on the org's tools row,
                     block_id "org_tools|<org_id>")
* Assign:            action_id "org_assign",      a users_select: the chosen user comes back
                     as ``selected_user``, the org from the block_id
* The note modal:    callback_id "note_add"; its private_metadata is JSON: {"org": <org_id>}
                     plus where it was opened from, "view" (the org modal's id) or "url"
                     (the /org reply's response_url), to refresh it after saving

Org ids are split off after the first "|" only, so an org id may itself contain "|".
An option value is at most 150 characters: when "<case>|<org_id>" would be longer, the
value is just "<case>" and `parse_action` takes the org from the block_id.
"""

from __future__ import annotations

import base64
import json
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
NOTE_OPEN = "note_open"
ORG_ASSIGN = "org_assign"
ORG_TOOL_ACTION_IDS = (NOTE_OPEN, ORG_ASSIGN)
ORG_TOOLS_BLOCK_PREFIX = "org_tools"
NOTE_CALLBACK_ID = "note_add"
NOTE_BLOCK_ID = "note"
NOTE_INPUT_ACTION = "note_text"

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


def org_tools_block_id(org_id: str) -> str:
    return f"{ORG_TOOLS_BLOCK_PREFIX}{SEP}{org_id}"


def note_metadata(org_id: str, *, view_id: str | None = None, response_url: str | None = None) -> str | None:
    """The note modal's private_metadata; None when it would not fit (the org id alone then)."""
    data = {"org": org_id}
    if view_id:
        data["view"] = view_id
    elif response_url:
        data["url"] = response_url
    text = json.dumps(data, separators=(",", ":"))
    if len(text) <= limits.PRIVATE_METADATA_MAX:
        return text
    text = json.dumps({"org": org_id}, separators=(",", ":"))
    return text if len(text) <= limits.PRIVATE_METADATA_MAX else None


@dataclass(frozen=True)
class NoteTarget:
    """Which org a submitted note is for, and what to refresh once it is saved."""

    org_id: str
    view_id: str | None = None  # the org modal the note modal was pushed on
    response_url: str | None = None  # the /org reply the Add note button was on


def parse_note_metadata(text: str | None) -> NoteTarget:
    try:
        data = json.loads(text or "")
    except ValueError as exc:
        raise ActionValueError("note_add: private_metadata is not JSON") from exc
    org_id = data.get("org") if isinstance(data, dict) else None
    if not isinstance(org_id, str) or not org_id:
        raise ActionValueError("note_add: no org in private_metadata")
    view_id, url = data.get("view"), data.get("url")
    return NoteTarget(org_id, view_id if isinstance(view_id, str) else None, url if isinstance(url, str) else None)


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
    if sep and prefix in (ITEM_BLOCK_PREFIX, ITEM_ACTIONS_BLOCK_PREFIX, ORG_TOOLS_BLOCK_PREFIX) and rest:
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
    user_id: str | None = None  # org_assign: the person chosen


def _selected_value(action: Mapping[str, Any]) -> str | None:
    if action.get("selected_option"):
        return action["selected_option"].get("value")
    return action.get("value")


def parse_action(action: Mapping[str, Any]) -> ItemAction:
    """Decode one element of a block_actions payload's `actions` list (Bolt's `action`)."""
    action_id = action.get("action_id")
    value = _selected_value(action)
    block_org = org_from_block_id(action.get("block_id"))
    if action_id == ORG_ASSIGN:
        user = action.get("selected_user")
        if not block_org:
            raise ActionValueError("org_assign: no org id in block_id")
        if not isinstance(user, str) or not user:
            raise ActionValueError("org_assign: no user chosen")
        return ItemAction(action_id=action_id, org_id=block_org, user_id=user)
    if action_id in (ORG_OPEN, ORG_PICK, NOTE_OPEN):
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
