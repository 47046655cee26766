"""Who is who in the workspace: owner e-mails to Slack ids, user-group membership.

Answers are cached for a few minutes: a CS team's owners and groups change rarely, and
`/signals mine` must answer well inside Slack's 3 seconds without a lookup per org.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from typing import Any

from slack_sdk.errors import SlackApiError

log = logging.getLogger(__name__)

CACHE_SECONDS = 300.0


class SlackDirectory:
    def __init__(self, client: Any, ttl: float = CACHE_SECONDS) -> None:
        self._client = client
        self._ttl = ttl
        self._lock = threading.Lock()
        self._email_ids: dict[str, tuple[float, str | None]] = {}
        self._groups: dict[str, tuple[float, frozenset[str]]] = {}

    def _fresh(self, stamp: float) -> bool:
        return time.monotonic() - stamp < self._ttl

    def user_id_for_email(self, email: str) -> str | None:
        """users.lookupByEmail, remembering misses too (users_not_found is an answer)."""
        key = email.strip().lower()
        with self._lock:
            hit = self._email_ids.get(key)
            if hit and self._fresh(hit[0]):
                return hit[1]
        try:
            user_id = self._client.users_lookupByEmail(email=key)["user"]["id"]
        except SlackApiError as exc:
            if exc.response.get("error") != "users_not_found":
                raise
            user_id = None
        with self._lock:
            self._email_ids[key] = (time.monotonic(), user_id)
        return user_id

    def email_of(self, user_id: str) -> str | None:
        """The user's e-mail from users.info (needs users:read.email); cached, misses too."""
        key = f"id:{user_id}"
        with self._lock:
            hit = self._email_ids.get(key)
            if hit and self._fresh(hit[0]):
                return hit[1]
        try:
            profile = self._client.users_info(user=user_id)["user"].get("profile") or {}
            email = (profile.get("email") or "").lower() or None
        except SlackApiError as exc:
            if exc.response.get("error") != "user_not_found":
                raise
            email = None
        with self._lock:
            self._email_ids[key] = (time.monotonic(), email)
        return email

    def owners_of(self, user_id: str, owners: Iterable[str]) -> frozenset[str]:
        """The owner values (Slack ids or e-mails) among `owners` that denote `user_id`.

        One users.info call for the person asking (cached), not one lookup per owner: the
        answer must come well inside Slack's time, whatever the number of CSMs.
        """
        candidates = {o for o in owners if o}
        mine = {o for o in candidates if o == user_id}
        if any("@" in o for o in candidates):
            email = self.email_of(user_id)
            if email:
                mine |= {o for o in candidates if o.strip().lower() == email}
        return frozenset(mine)

    def usergroup_members(self, group_id: str) -> frozenset[str]:
        with self._lock:
            hit = self._groups.get(group_id)
            if hit and self._fresh(hit[0]):
                return hit[1]
        users = frozenset(self._client.usergroups_users_list(usergroup=group_id).get("users", []))
        with self._lock:
            self._groups[group_id] = (time.monotonic(), users)
        return users
