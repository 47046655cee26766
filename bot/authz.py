"""Who may tag, dismiss and snooze: the users and user groups listed in `slack.authorized_users` /
`slack.authorized_usergroups`, or anyone when both are empty."""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError

from bot.directory import SlackDirectory
from domain.config import Config

log = logging.getLogger(__name__)


def may_change(user_id: str, cfg: Config, directory: SlackDirectory) -> bool:
    """True when no restriction is configured, or the user is listed or in a listed group.

    A failed group lookup refuses rather than allows: a change is easy to retry, an
    unauthorized dismissal of a risk signal is not easy to notice.
    """
    users, groups = cfg.slack.authorized_users, cfg.slack.authorized_usergroups
    if not users and not groups:
        return True
    if user_id in users:
        return True
    for group in groups:
        try:
            if user_id in directory.usergroup_members(group):
                return True
        except SlackApiError as exc:
            log.error("could not read user group %s: %s", group, exc.response.get("error"))
    return False
