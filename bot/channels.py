"""Channel names to ids, looked up once per process.

The configuration names channels the way people do ("#customer-success"), but digest
claims and posts need the id: it survives a rename, and the claim's uniqueness must not
depend on how someone spelt the name. ``conversations.list`` is paginated and rate limited
(tier 2), so the answer is cached for the life of the resolver.
"""

from __future__ import annotations

import re
import threading
from typing import Any

from services.ports import ChannelNotFound

# C… public, G… private/legacy group, D… direct message: already an id, no lookup needed.
_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{6,}$")
_PAGE_SIZE = 200


def channel_key(name: str) -> str:
    """The name as Slack stores it: no leading '#', lower case."""
    return name.strip().lstrip("#").lower()


class ChannelResolver:
    """Maps channel names to ids through one WebClient, caching every page it reads."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._ids: dict[str, str] = {}
        self._lock = threading.Lock()

    def resolve(self, name: str) -> str:
        """The channel id for `name` (or `name` itself when it already is an id).

        Raises ChannelNotFound, or the client's error when Slack can't be asked.
        """
        if _CHANNEL_ID.match(name.strip()):
            return name.strip()
        key = channel_key(name)
        with self._lock:
            if key in self._ids:
                return self._ids[key]
            self._load_until(key)
            if key not in self._ids:
                raise ChannelNotFound(name)
            return self._ids[key]

    def _load_until(self, key: str) -> None:
        cursor: str | None = None
        while True:
            resp = self._client.conversations_list(
                types="public_channel,private_channel", exclude_archived=True, limit=_PAGE_SIZE,
                cursor=cursor or None,
            )
            for ch in resp.get("channels") or []:
                if ch.get("name") and ch.get("id"):
                    self._ids.setdefault(channel_key(ch["name"]), ch["id"])
            cursor = ((resp.get("response_metadata") or {}).get("next_cursor")) or None
            if key in self._ids or not cursor:
                return


_resolvers: dict[int, ChannelResolver] = {}
_resolvers_lock = threading.Lock()


def resolver_for(client: Any) -> ChannelResolver:
    """The process-wide resolver of one client: each name is looked up once per client."""
    with _resolvers_lock:
        resolver = _resolvers.get(id(client))
        if resolver is None or resolver._client is not client:
            resolver = _resolvers[id(client)] = ChannelResolver(client)
        return resolver
