"""Slack Web API errors sorted into what the app should do about them.

A sender needs one decision per failure (wait and retry, give up and tell an admin, tell
the user something expired, or fix our payload), not ~200 error codes, so each known code
maps to one ErrorCategory, and each category has one sentence a person can act on.
"""

from __future__ import annotations

import socket
from http.client import HTTPException
from typing import Any
from urllib.error import URLError

from slack_sdk.errors import SlackApiError, SlackRequestError

from services.ports import ErrorCategory, is_retryable  # noqa: F401  (re-exported for callers)


_CODES: dict[ErrorCategory, frozenset[str]] = {
    ErrorCategory.RATE_LIMITED: frozenset({"ratelimited", "rate_limited"}),
    ErrorCategory.RETRYABLE: frozenset(
        {"internal_error", "fatal_error", "service_unavailable", "request_timeout", "team_added_to_org"}
    ),
    ErrorCategory.PERMANENT_CHANNEL: frozenset(
        {
            "channel_not_found",
            "not_in_channel",
            "is_archived",
            "restricted_action",
            "restricted_action_read_only_channel",
            "restricted_action_thread_only_channel",
            "restricted_action_non_threadable_channel",
            "cannot_dm_bot",
        }
    ),
    ErrorCategory.PERMANENT_AUTH: frozenset(
        {
            "invalid_auth",
            "not_authed",
            "account_inactive",
            "token_revoked",
            "token_expired",
            "missing_scope",
            "no_permission",
            "not_allowed_token_type",
            "ekm_access_denied",
            "team_access_not_granted",
            "org_login_required",
            "two_factor_setup_required",
        }
    ),
    ErrorCategory.BAD_REQUEST: frozenset(
        {
            "invalid_blocks",
            "invalid_blocks_format",
            "msg_too_long",
            "msg_blocks_too_long",
            "invalid_arguments",
            "invalid_arg_name",
            "invalid_array_arg",
            "invalid_charset",
            "invalid_form_data",
            "invalid_post_type",
            "missing_post_type",
            "no_text",
            "too_many_attachments",
            "invalid_json",
            "json_not_object",
            "view_too_large",
            "duplicate_external_id",
            "cant_update_message",
            "edit_window_closed",
            "unknown_method",
            "method_deprecated",
            "deprecated_endpoint",
        }
    ),
    ErrorCategory.EXPIRED: frozenset(
        {"expired_trigger_id", "invalid_trigger_id", "exchanged_trigger_id", "used_url", "expired_url"}
    ),
    ErrorCategory.NOT_FOUND: frozenset(
        {
            "users_not_found",
            "user_not_found",
            "user_not_visible",
            "message_not_found",
            "no_such_subteam",
            "subteam_not_found",
            "not_found",
            "view_not_found",
        }
    ),
}
_BY_CODE = {code: category for category, codes in _CODES.items() for code in codes}

USER_MESSAGES: dict[ErrorCategory, str] = {
    ErrorCategory.RATE_LIMITED: "Slack asked us to slow down; this will go through in a moment.",
    ErrorCategory.RETRYABLE: "Slack had a temporary problem; please try again in a minute.",
    ErrorCategory.PERMANENT_CHANNEL: (
        "I can't post in that channel: check that it exists, is not archived, and that "
        "SaaS Tracker has been added to it."
    ),
    ErrorCategory.PERMANENT_AUTH: (
        "SaaS Tracker's Slack access was refused (token or permissions); a workspace admin "
        "needs to reinstall or re-authorize the app."
    ),
    ErrorCategory.BAD_REQUEST: "Something went wrong building that message; it has been logged for the team.",
    ErrorCategory.EXPIRED: "That took too long and Slack's link expired; please click or type the command again.",
    ErrorCategory.NOT_FOUND: "Slack couldn't find that user, message or group.",
    ErrorCategory.UNKNOWN: "Something went wrong talking to Slack; please try again.",
}

_NETWORK_ERRORS: tuple[type[BaseException], ...] = (
    URLError,
    ConnectionError,
    TimeoutError,
    socket.timeout,
    HTTPException,  # RemoteDisconnected, IncompleteRead
)


def classify_code(code: str | None, status: int | None = None) -> ErrorCategory:
    """Category for a Slack error code (and/or HTTP status), e.g. from a response_url reply."""
    if status == 429:
        return ErrorCategory.RATE_LIMITED
    if code and code in _BY_CODE:
        return _BY_CODE[code]
    if status is not None and status >= 500:
        return ErrorCategory.RETRYABLE
    if code and code.startswith("invalid_"):
        return ErrorCategory.BAD_REQUEST
    return ErrorCategory.UNKNOWN


def error_code(error: BaseException) -> str | None:
    """The `error` field of a Slack API error response, if there is one."""
    if isinstance(error, SlackApiError):
        data: Any = getattr(error.response, "data", None)
        if isinstance(data, dict):
            code = data.get("error")
            return str(code) if code else None
    return None


def classify(error: BaseException) -> ErrorCategory:
    """Category for anything a slack_sdk call can raise."""
    if isinstance(error, SlackApiError):
        status = getattr(error.response, "status_code", None)
        return classify_code(error_code(error), status)
    if isinstance(error, SlackRequestError):
        return ErrorCategory.BAD_REQUEST
    if isinstance(error, _NETWORK_ERRORS):
        return ErrorCategory.RETRYABLE
    return ErrorCategory.UNKNOWN


def user_message(category: ErrorCategory) -> str:
    return USER_MESSAGES[category]
