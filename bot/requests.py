"""What a person asked for, read once from Slack's payload into one typed object.

A middleware (``bot.middleware.take_request``) parses every command, click and event into
a ``CommandRequest``, ``ClickRequest`` or ``EventRequest`` and puts it into Bolt's context
as ``slack_request``; the handlers get that object and never look into payload dicts.
A payload that can't be read as one of them is refused with 400 before any work.

The objects are frozen dataclasses of plain values, so Bolt can copy them for the lazy
listener that does the work after the acknowledgement.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import Enum
from typing import Any

from bot import payloads as act


class MalformedRequest(ValueError):
    """A signed payload that lacks what every request of its kind carries."""


class Container(str, Enum):
    """Where the clicked element is, which decides how the click is answered."""

    MESSAGE = "message"  # a message in a channel: its blocks come back and can be edited
    EPHEMERAL = "ephemeral"  # a reply only the person sees: no blocks come back
    MODAL = "modal"
    HOME = "home"

    @property
    def is_view(self) -> bool:
        return self in (Container.MODAL, Container.HOME)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _required(body: Mapping[str, Any], key: str) -> str:
    value = _text(body.get(key))
    if value is None:
        raise MalformedRequest(f"no {key}")
    return value


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


@dataclass(frozen=True)
class CommandRequest:
    """A slash command: "/signals top 5 risk" typed by `user_id` in `channel_id`."""

    name: str
    text: str
    user_id: str
    channel_id: str | None = None
    response_url: str | None = None
    trigger_id: str | None = None

    @property
    def endpoint(self) -> str:
        return self.name

    @property
    def line(self) -> str:
        """The command as typed, e.g. "/signals top 5"."""
        return f"{self.name} {self.text}".strip()

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> "CommandRequest":
        return cls(
            name=_required(body, "command"),
            text=str(body.get("text") or "").strip(),
            user_id=_required(body, "user_id"),
            channel_id=_text(body.get("channel_id")),
            response_url=_text(body.get("response_url")),
            trigger_id=_text(body.get("trigger_id")),
        )


@dataclass(frozen=True)
class ClickRequest:
    """One click on a button or menu option (a block_actions payload's first action)."""

    action_id: str
    user_id: str
    container: Container
    value: str | None = None  # the button's value or the chosen option's value
    block_id: str | None = None
    org_id: str | None = None  # from the value or the block id, when the click names one
    trigger_id: str | None = None
    response_url: str | None = None
    view_id: str | None = None
    view_hash: str | None = None
    message_text: str | None = None
    message_blocks: tuple[Mapping[str, Any], ...] | None = None  # a channel message's blocks
    decoded: act.ItemAction | None = None  # Open / Tag case / Dismiss / pick, decoded once
    problem: str | None = None  # why the value/block id can't be acted on, if it can't

    @property
    def endpoint(self) -> str:
        return f"action {self.action_id}"

    @property
    def item(self) -> act.ItemAction:
        """What the click asks for (org, case type, signals); raises ActionValueError for a
        payload this app did not build."""
        if self.decoded is None:
            raise act.ActionValueError(self.problem or f"{self.action_id}: not an item click")
        return self.decoded

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> "ClickRequest":
        actions = body.get("actions")
        if not isinstance(actions, list) or not actions or not isinstance(actions[0], Mapping):
            raise MalformedRequest("no actions")
        action = actions[0]
        user_id = _required(_mapping(body.get("user")), "id")
        container_info = _mapping(body.get("container"))
        view = _mapping(body.get("view"))
        message = _mapping(body.get("message"))
        if container_info.get("type") == "view":
            container = Container.HOME if view.get("type") == "home" else Container.MODAL
        elif message.get("blocks"):
            container = Container.MESSAGE
        else:
            container = Container.EPHEMERAL
        selected = _mapping(action.get("selected_option"))
        value = _text(selected.get("value")) or _text(action.get("value")) or _text(action.get("selected_user"))
        block_id = _text(action.get("block_id"))
        blocks = message.get("blocks") if container is Container.MESSAGE else None
        click = cls(
            action_id=_required(action, "action_id"),
            user_id=user_id,
            container=container,
            value=value,
            block_id=block_id,
            trigger_id=_text(body.get("trigger_id")),
            response_url=_text(body.get("response_url")),
            view_id=_text(view.get("id")) or _text(container_info.get("view_id")),
            view_hash=_text(view.get("hash")),
            message_text=_text(message.get("text")),
            message_blocks=tuple(b for b in blocks if isinstance(b, Mapping)) if isinstance(blocks, list) else None,
        )
        if click.action_id not in act.ITEM_ACTION_IDS + act.ORG_TOOL_ACTION_IDS + (act.ORG_PICK,):
            return click
        try:
            decoded = act.parse_action({"action_id": click.action_id, "value": value, "block_id": block_id,
                                        "selected_user": _text(action.get("selected_user"))})
        except act.ActionValueError as exc:
            return replace(click, problem=str(exc))
        return replace(click, decoded=decoded, org_id=decoded.org_id)


@dataclass(frozen=True)
class EventRequest:
    """An Events API callback, e.g. app_home_opened."""

    type: str
    event_id: str | None = None
    user_id: str | None = None
    tab: str | None = None

    @property
    def endpoint(self) -> str:
        return f"event {self.type}"

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> "EventRequest":
        event = body.get("event")
        if not isinstance(event, Mapping):
            raise MalformedRequest("no event")
        return cls(
            type=_required(event, "type"),
            event_id=_text(body.get("event_id")),
            user_id=_text(event.get("user")),
            tab=_text(event.get("tab")),
        )


@dataclass(frozen=True)
class SubmissionRequest:
    """A modal's form sent (view_submission), e.g. the note modal's Save."""

    callback_id: str
    user_id: str
    view_id: str | None = None
    previous_view_id: str | None = None
    private_metadata: str | None = None
    trigger_id: str | None = None
    # (block_id, action_id, value) of every field, as Slack sends them under state.values.
    values: tuple[tuple[str, str, str | None], ...] = ()

    @property
    def endpoint(self) -> str:
        return f"view {self.callback_id}"

    def value(self, block_id: str, action_id: str) -> str | None:
        return next((v for b, a, v in self.values if b == block_id and a == action_id), None)

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> "SubmissionRequest":
        view = _mapping(body.get("view"))
        state = _mapping(_mapping(view.get("state")).get("values"))
        values = []
        for block_id, fields in state.items():
            for action_id, field in _mapping(fields).items():
                field = _mapping(field)
                raw = field.get("value")
                if raw is None:
                    raw = field.get("selected_user") or _mapping(field.get("selected_option")).get("value")
                values.append((str(block_id), str(action_id), raw if isinstance(raw, str) else None))
        return cls(
            callback_id=_required(view, "callback_id"),
            user_id=_required(_mapping(body.get("user")), "id"),
            view_id=_text(view.get("id")),
            previous_view_id=_text(view.get("previous_view_id")),
            private_metadata=_text(view.get("private_metadata")),
            trigger_id=_text(body.get("trigger_id")),
            values=tuple(values),
        )


SlackRequest = CommandRequest | ClickRequest | EventRequest | SubmissionRequest


def parse_request(body: Mapping[str, Any]) -> SlackRequest | None:
    """The typed request for a command, click or event callback; None for the kinds this
    app does not handle (Bolt answers those itself). Raises MalformedRequest."""
    if "command" in body:
        return CommandRequest.from_body(body)
    kind = body.get("type")
    if kind == "block_actions":
        return ClickRequest.from_body(body)
    if kind == "event_callback":
        return EventRequest.from_body(body)
    if kind == "view_submission":
        return SubmissionRequest.from_body(body)
    return None
