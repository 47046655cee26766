"""A local HTTP stand-in for the Slack Web API, response_urls, and Slack's signed requests.

Tests point the real slack_sdk WebClient (and slack-bolt) at `SlackStub.base_url`; the stub
answers the Web API methods the app uses the way Slack does (HTTP 200 with
{"ok": false, "error": ...} for API errors, HTTP 429 + Retry-After for rate limits),
records every call, and can be scripted to fail. It keeps the state a test asserts on:
posted messages (updated in place by chat.update and response_url replace_original),
ephemeral messages, opened/published views and response_url replies.

Files go through Slack's external upload flow, the one `WebClient.files_upload_v2` uses:
files.getUploadURLExternal hands out an upload URL served by the stub itself (same host and
port), the client POSTs the raw bytes there, and files.completeUploadExternal turns them
into a file (shared in a channel when given one, like Slack's file_share message). The
bytes stay available for assertions (`uploaded_files`), the file's `url_private` answers
with them (bearer token required), and image blocks that reference a file through
`slack_file` are checked against the files the stub knows. Script failures of the upload
URL itself with `fail_next("upload_url", status=500)`.

Like Slack, it rejects over-limit Block Kit payloads (`invalid_blocks`,
`msg_blocks_too_long`), with its own numbers, independent of bot.limits, so a sender that
skips validation fails here too.

It also builds the requests Slack sends to the app (slash commands, block_actions clicks,
app_home_opened events) and signs them: `signed_request_headers`.
"""

from __future__ import annotations

import collections
import email.parser
import email.policy
import hashlib
import hmac
import itertools
import json
import mimetypes
import re
import struct
import threading
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple
from urllib.parse import parse_qs, urlencode, urlsplit

DEFAULT_TOKEN = "xoxb-stub-token"
TEAM_ID = "T0STUB"
TEAM_DOMAIN = "stub-workspace"
APP_ID = "A0STUB"
BOT_USER_ID = "U0BOT"
BOT_ID = "B0BOT"
DEFAULT_USERS = (
    {"id": "U0ANA", "name": "ana", "real_name": "Ana Lead", "email": "ana@example.com"},
    {"id": "U0BEN", "name": "ben", "real_name": "Ben CSM", "email": "ben@example.com"},
    {"id": "U0CAL", "name": "cal", "real_name": "Cal Sales", "email": "cal@example.com"},
)
DEFAULT_CHANNELS = (
    {"id": "C0CUSTSUCC", "name": "customer-success"},
    {"id": "C0ALERTS", "name": "cs-alerts"},
    {"id": "C0OLD", "name": "old-cs", "is_archived": True},
    {"id": "C0NOBOT", "name": "no-bot-here", "is_member": False},
)
DEFAULT_USERGROUPS = {"S0CSLEADS": ("U0ANA",)}

# Slack's limits as the stand-in enforces them (kept apart from bot.limits on purpose).
_MAX_MESSAGE_BLOCKS = 50
_MAX_VIEW_BLOCKS = 100
_MAX_MESSAGE_BLOCK_TEXT = 13_000
_TEXT_LIMITS = {"section": 3000, "field": 2000, "header": 150, "button": 75, "option": 75, "context": 3000}
_MAX_FIELDS = 10
_MAX_ID = 255
_MAX_BUTTON_VALUE = 2000
_MAX_OPTION_VALUE = 150
_MAX_MODAL_TITLE = 24
_RESPONSE_URL_USES = 5
_MAX_IMAGE_TEXT = 2000  # image block alt_text and title
_MAX_IMAGE_URL = 3000
_FILE_ID = re.compile(r"^F[A-Z0-9]{8,}$")  # the pattern Slack checks slack_file ids against
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_JSON_ARGS = ("blocks", "attachments", "view", "metadata")


@dataclass
class Call:
    """One request the stub received."""

    method: str  # "chat.postMessage", or "response_url" for response_url posts
    args: dict[str, Any]
    time: float
    headers: dict[str, str]
    token: str | None
    status: int = 200
    response: Any = None

    @property
    def ok(self) -> bool:
        return self.status == 200 and isinstance(self.response, dict) and bool(self.response.get("ok"))

    @property
    def error(self) -> str | None:
        return self.response.get("error") if isinstance(self.response, dict) else None


@dataclass
class Failure:
    error: str | None
    status: int
    retry_after: int | None
    body: str | None
    delay: float


class StoredFile(NamedTuple):
    """A completed upload, as a test asserts on it."""

    file_id: str
    filename: str
    title: str
    data: bytes
    channel: str | None  # the first channel it was shared in; None while private


@dataclass
class PendingUpload:
    """A file id handed out by files.getUploadURLExternal, until the upload completes."""

    file_id: str
    filename: str
    length: int
    alt_txt: str | None
    url_token: str
    data: bytes | None = None


@dataclass
class ResponseUrl:
    token: str
    channel: str | None
    ts: str | None
    max_uses: int
    uses: int = 0
    expired: bool = False
    replies: list[dict[str, Any]] = field(default_factory=list)
    # The ephemeral message this URL posted (a command's answer): what replace_original edits.
    ephemeral: dict[str, Any] | None = None


class SlackStub:
    """A threaded HTTP server on 127.0.0.1:<free port> speaking enough Slack for the app."""

    def __init__(
        self,
        *,
        token: str | None = DEFAULT_TOKEN,
        users: Iterable[Mapping[str, Any]] = DEFAULT_USERS,
        channels: Iterable[Mapping[str, Any]] = DEFAULT_CHANNELS,
        usergroups: Mapping[str, Sequence[str]] = DEFAULT_USERGROUPS,
        conversations_page_size: int = 100,
    ) -> None:
        self.token = token  # None: accept any non-empty token
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self.calls: list[Call] = []
        self.users: dict[str, dict[str, Any]] = {}
        self.channels: dict[str, dict[str, Any]] = {}
        self.usergroups: dict[str, list[str]] = {k: list(v) for k, v in usergroups.items()}
        self.messages: dict[tuple[str, str], dict[str, Any]] = {}
        self.posted: list[dict[str, Any]] = []  # chat.postMessage results, in order
        self.ephemeral: list[dict[str, Any]] = []
        self.views: dict[str, dict[str, Any]] = {}  # view id -> view (opened or updated)
        self.opened_views: list[dict[str, Any]] = []
        self.home_views: dict[str, dict[str, Any]] = {}  # user id -> published Home view
        self.response_urls: dict[str, ResponseUrl] = {}
        self.expired_triggers: set[str] = set()
        self.pending_uploads: dict[str, PendingUpload] = {}  # file id -> upload not yet completed
        self.files: dict[str, dict[str, Any]] = {}  # file id -> the file object Slack would return
        self._file_data: dict[str, bytes] = {}
        self._file_channels: dict[str, list[str]] = {}  # in the order they were asked for
        self._file_ids = itertools.count(1)
        self.conversations_page_size = conversations_page_size
        self._failures: dict[str, collections.deque[Failure]] = collections.defaultdict(collections.deque)
        self._ts = itertools.count(1)
        for user in users:
            self.add_user(**dict(user))
        for channel in channels:
            self.add_channel(**dict(channel))
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- life cycle ---------------------------------------------------------------------

    def start(self) -> "SlackStub":
        stub = self

        class Handler(_Handler):
            pass

        Handler.stub = stub
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="slack-stub", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> "SlackStub":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the Slack stub is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def base_url(self) -> str:
        """What to pass as WebClient(base_url=...) / SLACK_API_URL."""
        return f"{self.url}/api/"

    # --- fixtures of the fake workspace ------------------------------------------------

    def add_user(self, id: str, name: str | None = None, email: str | None = None, **extra: Any) -> None:
        real_name = extra.pop("real_name", name or id)
        with self._lock:
            self.users[id] = {
                "id": id,
                "team_id": TEAM_ID,
                "name": name or id.lower(),
                "real_name": real_name,
                "deleted": False,
                "is_bot": False,
                "tz": "Europe/London",
                "profile": {"email": email, "real_name": real_name, "display_name": name or id},
                **extra,
            }

    def add_channel(
        self, id: str, name: str, *, is_archived: bool = False, is_member: bool = True, is_private: bool = False
    ) -> None:
        with self._lock:
            self.channels[id] = {
                "id": id,
                "name": name,
                "is_channel": not is_private,
                "is_private": is_private,
                "is_archived": is_archived,
                "is_member": is_member,
            }

    def add_usergroup(self, group_id: str, users: Sequence[str]) -> None:
        with self._lock:
            self.usergroups[group_id] = list(users)

    # --- scripting --------------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        *,
        error: str | None = None,
        status: int = 200,
        retry_after: int | None = None,
        times: int = 1,
        body: str | None = None,
        delay: float = 0.0,
    ) -> None:
        """Make the next `times` calls of `method` fail.

        error="channel_not_found" -> HTTP 200 {"ok": false, "error": ...} (Slack's API errors);
        status=429, retry_after=1 -> HTTP 429 with Retry-After (error defaults to ratelimited);
        status=500 -> HTTP 500 (error defaults to internal_error); body= replaces the JSON body
        (e.g. an HTML error page); delay= seconds to wait before answering.
        method "response_url" scripts response_url posts, "upload_url" the POSTs of file
        bytes to the URL files.getUploadURLExternal handed out.
        """
        if error is None:
            error = "ratelimited" if status == 429 else "internal_error" if status >= 500 else None
        if error is None and status == 200:
            raise ValueError("fail_next needs an error code or an HTTP error status")
        failure = Failure(error=error, status=status, retry_after=retry_after, body=body, delay=delay)
        with self._lock:
            for _ in range(times):
                self._failures[method].append(failure)

    def expire_trigger(self, trigger_id: str) -> None:
        with self._lock:
            self.expired_triggers.add(trigger_id)

    def new_response_url(self, channel: str | None = None, ts: str | None = None, *,
                         max_uses: int = _RESPONSE_URL_USES) -> str:
        """A response_url; with channel and ts, replace_original/delete_original act on that message."""
        token = uuid.uuid4().hex
        with self._lock:
            self.response_urls[token] = ResponseUrl(token=token, channel=channel, ts=ts, max_uses=max_uses)
        return f"{self.url}/response/{token}"

    def expire_response_url(self, url: str) -> None:
        with self._lock:
            self.response_urls[url.rstrip("/").rsplit("/", 1)[-1]].expired = True

    def reset(self) -> None:
        """Forget calls, messages, views, files and scripted failures (keep users and channels)."""
        with self._lock:
            self.calls.clear()
            self.messages.clear()
            self.posted.clear()
            self.ephemeral.clear()
            self.views.clear()
            self.opened_views.clear()
            self.home_views.clear()
            self.response_urls.clear()
            self.pending_uploads.clear()
            self.files.clear()
            self._file_data.clear()
            self._file_channels.clear()
            self._failures.clear()

    # --- assertions ---------------------------------------------------------------------

    def calls_to(self, method: str, *, ok: bool | None = None) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method and (ok is None or c.ok == ok)]

    def wait_for(self, method: str, count: int = 1, *, ok: bool | None = None, timeout: float = 10.0) -> list[Call]:
        """Block until `count` calls of `method` arrived (for work done in background threads)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.calls_to(method, ok=ok)) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"expected {count} {method} call(s) within {timeout}s, got {len(self.calls_to(method, ok=ok))}"
                    )
                self._changed.wait(left)
            return self.calls_to(method, ok=ok)

    def message(self, channel: str, ts: str) -> dict[str, Any] | None:
        with self._lock:
            return self.messages.get((channel, ts))

    def channel_messages(self, channel: str) -> list[dict[str, Any]]:
        """Current state of the messages in a channel (after updates), oldest first."""
        with self._lock:
            return [m for (ch, _), m in sorted(self.messages.items(), key=lambda kv: float(kv[0][1])) if ch == channel]

    @property
    def uploaded_files(self) -> list[StoredFile]:
        """Completed uploads, oldest first, with the exact bytes the client sent."""
        with self._lock:
            return [
                StoredFile(fid, f["name"], f["title"], self._file_data[fid], (self._file_channels[fid] or [None])[0])
                for fid, f in self.files.items()
            ]

    def response_replies(self, url: str) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.response_urls[url.rstrip("/").rsplit("/", 1)[-1]].replies)

    # --- request handling (called from server threads) -----------------------------------

    def _next_ts(self) -> str:
        return f"{1_700_000_000 + next(self._ts)}.000100"

    def _record(self, call: Call) -> None:
        with self._changed:
            self.calls.append(call)
            self._changed.notify_all()

    def _take_failure(self, method: str) -> Failure | None:
        with self._lock:
            queue = self._failures.get(method)
            return queue.popleft() if queue else None

    def _check_token(self, token: str | None) -> str | None:
        if not token:
            return "not_authed"
        if self.token is not None and token != self.token:
            return "invalid_auth"
        return None

    def _resolve_channel(self, channel: str | None) -> tuple[str | None, str | None]:
        """(channel id, error) for an id, a #name / name, or a user id (a DM)."""
        if not channel:
            return None, "channel_not_found"
        with self._lock:
            if channel in self.channels:
                info = self.channels[channel]
            else:
                name = channel.lstrip("#")
                info = next((c for c in self.channels.values() if c["name"] == name), None)
                if info is None:
                    if channel in self.users:
                        return "D" + channel[1:], None
                    return None, "channel_not_found"
        if info["is_archived"]:
            return None, "is_archived"
        if not info["is_member"]:
            return None, "not_in_channel"
        return info["id"], None

    def handle_api(self, method: str, args: dict[str, Any], token: str | None) -> dict[str, Any]:
        auth_error = self._check_token(token)
        if auth_error:
            return {"ok": False, "error": auth_error}
        handler = getattr(self, "_api_" + method.replace(".", "_"), None)
        if handler is None:
            return {"ok": False, "error": "unknown_method"}
        return handler(args)

    # Web API methods ----------------------------------------------------------------------

    def _api_auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": f"https://{TEAM_DOMAIN}.slack.com/",
            "team": "Stub Workspace",
            "user": "saas-tracker",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _api_chat_postMessage(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, error = self._resolve_channel(args.get("channel"))
        if error:
            return {"ok": False, "error": error}
        error = _message_error(args) or self._slack_file_error(args.get("blocks"))
        if error:
            return {"ok": False, "error": error}
        ts = self._next_ts()
        message = {
            "type": "message",
            "channel": channel,
            "ts": ts,
            "text": args.get("text", ""),
            "blocks": args.get("blocks", []),
            "thread_ts": args.get("thread_ts"),
            "bot_id": BOT_ID,
            "user": BOT_USER_ID,
        }
        with self._lock:
            self.messages[(channel, ts)] = message
            self.posted.append(dict(message))
        return {"ok": True, "channel": channel, "ts": ts, "message": dict(message)}

    def _api_chat_postEphemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, error = self._resolve_channel(args.get("channel"))
        if error:
            return {"ok": False, "error": error}
        if args.get("user") not in self.users:
            return {"ok": False, "error": "user_not_in_channel"}
        error = _message_error(args) or self._slack_file_error(args.get("blocks"))
        if error:
            return {"ok": False, "error": error}
        ts = self._next_ts()
        with self._lock:
            self.ephemeral.append(
                {"channel": channel, "user": args["user"], "ts": ts, "text": args.get("text", ""),
                 "blocks": args.get("blocks", [])}
            )
        return {"ok": True, "message_ts": ts}

    def _api_chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, error = self._resolve_channel(args.get("channel"))
        if error:
            return {"ok": False, "error": error}
        key = (channel, str(args.get("ts")))
        with self._lock:
            if key not in self.messages:
                return {"ok": False, "error": "message_not_found"}
        error = _message_error(args) or self._slack_file_error(args.get("blocks"))
        if error:
            return {"ok": False, "error": error}
        with self._lock:
            message = self.messages[key]
            if "text" in args:
                message["text"] = args["text"]
            if "blocks" in args:
                message["blocks"] = args["blocks"]
            message["edited"] = True
            return {"ok": True, "channel": channel, "ts": key[1], "text": message["text"], "message": dict(message)}

    def _check_trigger(self, args: dict[str, Any]) -> str | None:
        trigger = args.get("trigger_id")
        if not trigger:
            return "invalid_trigger_id"
        if trigger in self.expired_triggers:
            return "expired_trigger_id"
        return None

    def _store_view(self, view: dict[str, Any], view_id: str | None = None) -> dict[str, Any]:
        view_id = view_id or "V" + uuid.uuid4().hex[:10].upper()
        stored = {**view, "id": view_id, "hash": uuid.uuid4().hex, "team_id": TEAM_ID, "app_id": APP_ID}
        with self._lock:
            self.views[view_id] = stored
        return stored

    def _api_views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        error = (self._check_trigger(args) or _view_error(args.get("view"), "modal")
                 or self._view_file_error(args.get("view")))
        if error:
            return {"ok": False, "error": error}
        stored = self._store_view(args["view"])
        with self._lock:
            self.opened_views.append(stored)
        return {"ok": True, "view": stored}

    def _api_views_push(self, args: dict[str, Any]) -> dict[str, Any]:
        return self._api_views_open(args)

    def _api_views_update(self, args: dict[str, Any]) -> dict[str, Any]:
        view_id = args.get("view_id")
        if not view_id and args.get("external_id"):
            view_id = next((k for k, v in self.views.items() if v.get("external_id") == args["external_id"]), None)
        if not view_id or view_id not in self.views:
            return {"ok": False, "error": "not_found"}
        error = _view_error(args.get("view"), self.views[view_id]["type"]) or self._view_file_error(args.get("view"))
        if error:
            return {"ok": False, "error": error}
        return {"ok": True, "view": self._store_view(args["view"], view_id)}

    def _api_views_publish(self, args: dict[str, Any]) -> dict[str, Any]:
        user = args.get("user_id")
        if user not in self.users:
            return {"ok": False, "error": "user_not_found"}
        error = _view_error(args.get("view"), "home") or self._view_file_error(args.get("view"))
        if error:
            return {"ok": False, "error": error}
        stored = self._store_view(args["view"])
        with self._lock:
            self.home_views[user] = stored
        return {"ok": True, "view": stored}

    def _api_users_lookupByEmail(self, args: dict[str, Any]) -> dict[str, Any]:
        email = str(args.get("email", "")).lower()
        with self._lock:
            user = next((u for u in self.users.values() if (u["profile"].get("email") or "").lower() == email), None)
        if not email or user is None:
            return {"ok": False, "error": "users_not_found"}
        return {"ok": True, "user": user}

    def _api_users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user = self.users.get(str(args.get("user")))
        if user is None:
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "user": user}

    def _api_conversations_list(self, args: dict[str, Any]) -> dict[str, Any]:
        types = str(args.get("types") or "public_channel").split(",")
        exclude_archived = str(args.get("exclude_archived", "false")).lower() in ("true", "1")
        with self._lock:
            channels = [
                c
                for c in self.channels.values()
                if ("private_channel" if c["is_private"] else "public_channel") in types
                and not (exclude_archived and c["is_archived"])
            ]
        start = int(args.get("cursor") or 0)
        limit = min(int(args.get("limit") or self.conversations_page_size), self.conversations_page_size)
        page = channels[start : start + limit]
        next_cursor = str(start + limit) if start + limit < len(channels) else ""
        return {"ok": True, "channels": page, "response_metadata": {"next_cursor": next_cursor}}

    def _api_conversations_info(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self.channels.get(str(args.get("channel")))
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        return {"ok": True, "channel": channel}

    def _api_usergroups_users_list(self, args: dict[str, Any]) -> dict[str, Any]:
        group = str(args.get("usergroup", ""))
        with self._lock:
            if group not in self.usergroups:
                return {"ok": False, "error": "no_such_subteam"}
            return {"ok": True, "users": list(self.usergroups[group])}

    # Files: the external upload flow ---------------------------------------------------

    def _api_files_getUploadURLExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        filename = str(args.get("filename") or "")
        try:
            length = int(args.get("length", ""))
        except (TypeError, ValueError):
            length = -1
        if not filename or length < 0:
            return {"ok": False, "error": "invalid_arguments"}
        file_id = f"F0STUB{next(self._file_ids):04d}"
        url_token = uuid.uuid4().hex
        with self._lock:
            self.pending_uploads[file_id] = PendingUpload(file_id, filename, length, args.get("alt_txt") or None,
                                                          url_token)
        return {"ok": True, "upload_url": f"{self.url}/upload/v1/{url_token}", "file_id": file_id}

    def handle_upload(self, url_token: str, data: bytes) -> tuple[int, dict[str, Any], str]:
        """A POST of raw bytes to an upload URL: (status, what to record, body to send).
        Slack's upload host answers in plain text, not JSON."""
        with self._lock:
            pending = next((u for u in self.pending_uploads.values() if u.url_token == url_token), None)
            if pending is None:
                return 404, {"ok": False, "error": "not_found"}, "Not Found"
            if len(data) != pending.length:
                # The stub's own strictness: the declared length must match what is sent.
                return 400, {"ok": False, "error": "length_mismatch", "file_id": pending.file_id}, "length mismatch"
            pending.data = data
        return 200, {"ok": True, "file_id": pending.file_id}, f"OK - {len(data)}"

    def _api_files_completeUploadExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        entries = _json_list(args.get("files"))
        if not entries or not all(isinstance(e, dict) and e.get("id") for e in entries):
            return {"ok": False, "error": "invalid_arguments"}
        channels: list[str] = []
        for wanted in [args.get("channel_id")] + str(args.get("channels") or "").split(","):
            if wanted:
                channel, error = self._resolve_channel(wanted)
                if error:
                    return {"ok": False, "error": error}
                channels.append(channel)  # type: ignore[arg-type]
        with self._lock:
            pending = [self.pending_uploads.get(str(e["id"])) for e in entries]
            if any(p is None or p.data is None for p in pending):
                return {"ok": False, "error": "file_not_found"}
            files = [self._complete(p, e.get("title"), channels) for p, e in zip(pending, entries)]  # type: ignore[arg-type]
            if channels:
                self._share(files, channels, args)
        return {"ok": True, "files": [dict(f) for f in files]}

    def _complete(self, pending: PendingUpload, title: Any, channels: list[str]) -> dict[str, Any]:
        """The file object, shaped like Slack's (the fields a client reads)."""
        data = pending.data or b""
        name = pending.filename
        now = int(time.time())
        extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
        url_private = f"{self.url}/files-pri/{TEAM_ID}-{pending.file_id}/{name}"
        file: dict[str, Any] = {
            "id": pending.file_id,
            "created": now,
            "timestamp": now,
            "name": name,
            "title": str(title) if title else name,
            "mimetype": mimetypes.guess_type(name)[0] or "application/octet-stream",
            "filetype": extension or "binary",
            "pretty_type": extension.upper() or "Binary",
            "user": BOT_USER_ID,
            "user_team": TEAM_ID,
            "mode": "hosted",
            "editable": False,
            "is_external": False,
            "is_public": any(c in self.channels and not self.channels[c]["is_private"] for c in channels),
            "size": len(data),
            "url_private": url_private,
            "url_private_download": f"{self.url}/files-pri/{TEAM_ID}-{pending.file_id}/download/{name}",
            "permalink": f"{self.url}/files/{BOT_USER_ID}/{pending.file_id}/{name}",
            "channels": [c for c in channels if c in self.channels and not self.channels[c]["is_private"]],
            "groups": [c for c in channels if c in self.channels and self.channels[c]["is_private"]],
            "ims": [c for c in channels if c not in self.channels],
            "shares": {},
        }
        if pending.alt_txt:
            file["alt_txt"] = pending.alt_txt
        size = _png_size(data)
        if size:
            file["original_w"], file["original_h"] = size
        self.files[pending.file_id] = file
        self._file_data[pending.file_id] = data
        self._file_channels[pending.file_id] = list(channels)
        del self.pending_uploads[pending.file_id]
        return file

    def _share(self, files: list[dict[str, Any]], channels: list[str], args: dict[str, Any]) -> None:
        """Like Slack, sharing posts one message per channel carrying the files and the
        initial comment (not in `posted`, which holds chat.postMessage results)."""
        for channel in channels:
            ts = self._next_ts()
            self.messages[(channel, ts)] = {
                "type": "message",
                "subtype": "file_share",
                "channel": channel,
                "ts": ts,
                "text": str(args.get("initial_comment") or ""),
                "files": [dict(f) for f in files],
                "thread_ts": args.get("thread_ts"),
                "bot_id": BOT_ID,
                "user": BOT_USER_ID,
            }

    def _api_files_info(self, args: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            file = self.files.get(str(args.get("file")))
        if file is None:
            return {"ok": False, "error": "file_not_found"}
        return {"ok": True, "file": dict(file), "comments": [], "response_metadata": {"next_cursor": ""}}

    def handle_file_download(self, path: str, token: str | None) -> tuple[int, dict[str, Any], bytes | str]:
        """GET of a file's url_private(_download): its bytes, for the bot's own token only."""
        auth_error = self._check_token(token)
        if auth_error:
            return 401, {"ok": False, "error": auth_error}, "Unauthorized"
        file_id = path.split("/")[2].rsplit("-", 1)[-1] if path.count("/") >= 3 else ""
        with self._lock:
            data = self._file_data.get(file_id)
            mimetype = self.files[file_id]["mimetype"] if data is not None else ""
        if data is None:
            return 404, {"ok": False, "error": "file_not_found"}, "Not Found"
        return 200, {"ok": True, "file_id": file_id, "mimetype": mimetype}, data

    def _slack_file_error(self, blocks: Any) -> str | None:
        """invalid_blocks for an image block whose slack_file names no file the stub has
        (Slack answers "invalid slack file")."""
        with self._lock:
            known_ids = set(self.files)
            known_urls = {f[k] for f in self.files.values() for k in ("url_private", "permalink")}
        for ref in _slack_file_refs(blocks):
            if "id" in ref and ref["id"] not in known_ids:
                return "invalid_blocks"
            if "url" in ref and ref["url"] not in known_urls:
                return "invalid_blocks"
        return None

    def _view_file_error(self, view: Any) -> str | None:
        """Views report block problems as invalid_arguments, like the other view checks."""
        if isinstance(view, dict) and self._slack_file_error(view.get("blocks")):
            return "invalid_arguments"
        return None

    # response_url -------------------------------------------------------------------------

    def handle_response_url(self, token: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            entry = self.response_urls.get(token)
            if entry is None or entry.expired:
                return 404, {"ok": False, "error": "expired_url"}
            if entry.uses >= entry.max_uses:
                return 404, {"ok": False, "error": "used_url"}
            entry.uses += 1
        error = (_message_error(body, require_text=not body.get("delete_original"))
                 or self._slack_file_error(body.get("blocks")))
        if error:
            return 400, {"ok": False, "error": error}
        with self._lock:
            entry.replies.append(body)
            key = (entry.channel, entry.ts) if entry.channel and entry.ts else None
            if body.get("delete_original") and key:
                self.messages.pop(key, None)
            elif body.get("replace_original") and key and key in self.messages:
                message = self.messages[key]
                message["text"] = body.get("text", "")
                message["blocks"] = body.get("blocks", [])
                message["edited"] = True
            elif body.get("response_type") == "in_channel" and entry.channel:
                ts = self._next_ts()
                self.messages[(entry.channel, ts)] = {
                    "type": "message",
                    "channel": entry.channel,
                    "ts": ts,
                    "text": body.get("text", ""),
                    "blocks": body.get("blocks", []),
                    "bot_id": BOT_ID,
                }
            elif body.get("replace_original") and key is None and entry.ephemeral is not None:
                # A command's ephemeral answer, replaced through the same response_url.
                entry.ephemeral.update(text=body.get("text", ""), blocks=body.get("blocks", []), edited=True)
            else:
                entry.ephemeral = {"channel": entry.channel, "user": None, "ts": None, "text": body.get("text", ""),
                                   "blocks": body.get("blocks", [])}
                self.ephemeral.append(entry.ephemeral)
        return 200, {"ok": True}


class _Handler(BaseHTTPRequestHandler):
    stub: SlackStub
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        pass

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def _send(
        self, status: int, payload: Any, headers: Mapping[str, str] | None = None, *, content_type: str | None = None
    ) -> None:
        if isinstance(payload, bytes):
            body = payload
        else:
            body = payload.encode("utf-8") if isinstance(payload, str) else json.dumps(payload).encode("utf-8")
        self.send_response(status)
        if content_type is None:
            content_type = ("application/json; charset=utf-8" if not isinstance(payload, str)
                            else "text/html; charset=utf-8")
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _handle(self) -> None:
        stub = self.stub
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        headers = {k: v for k, v in self.headers.items()}
        if parts.path.startswith("/upload/"):
            self._handle_upload(parts.path, raw, headers)
            return
        try:
            args = _parse_body(raw, self.headers.get("Content-Type", ""), parts.query)
        except ValueError:
            self._send(200, {"ok": False, "error": "invalid_json"})
            return
        token = args.pop("token", None)
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            token = auth[len("Bearer ") :].strip()

        if parts.path.startswith("/api/"):
            method = parts.path[len("/api/") :].strip("/")
        elif parts.path.startswith("/response/"):
            method = "response_url"
        elif parts.path.startswith("/files-pri/"):
            method = "file_download"
        else:
            self._send(404, {"ok": False, "error": "not_found"})
            return

        call = Call(method=method, args=args, time=time.time(), headers=headers, token=token)
        if self._failed(call):
            return

        if method == "file_download":
            status, summary, body = stub.handle_file_download(parts.path, token)
            call.status, call.response = status, summary
            stub._record(call)
            self._send(status, body, content_type=summary.get("mimetype") or None)
            return
        if method == "response_url":
            status, payload = stub.handle_response_url(parts.path[len("/response/") :].strip("/"), args)
        else:
            status, payload = 200, stub.handle_api(method, args, token)
        call.status, call.response = status, payload
        stub._record(call)
        self._send(status, payload)

    def _failed(self, call: Call) -> bool:
        """Answer with the failure scripted for call.method, if any (then True)."""
        failure = self.stub._take_failure(call.method)
        if failure is None:
            return False
        if failure.delay:
            time.sleep(failure.delay)
        payload: Any = failure.body if failure.body is not None else {"ok": False, "error": failure.error}
        extra = {"Retry-After": str(failure.retry_after)} if failure.retry_after is not None else {}
        call.status, call.response = failure.status, payload
        self.stub._record(call)
        self._send(failure.status, payload, extra)
        return True

    def _handle_upload(self, path: str, raw: bytes, headers: dict[str, str]) -> None:
        """The upload URL: raw bytes in, plain text out, no token (the URL is the secret).
        Recorded as method "upload_url" with a JSON summary, since the bytes are not args."""
        url_token = path.rstrip("/").rsplit("/", 1)[-1]
        call = Call(method="upload_url", args={"size": len(raw)}, time=time.time(), headers=headers, token=None)
        if self._failed(call):
            return
        status, summary, text = self.stub.handle_upload(url_token, raw)
        call.args["file_id"] = summary.get("file_id")
        call.status, call.response = status, summary
        self.stub._record(call)
        self._send(status, text, content_type="text/plain; charset=utf-8")


def _json_list(value: Any) -> list[Any] | None:
    """A JSON array argument (form-encoded calls send it as a string), or None."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    return value if isinstance(value, list) else None


def _png_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG's IHDR chunk, as Slack reports original_w/original_h."""
    if len(data) >= 24 and data.startswith(_PNG_SIGNATURE) and data[12:16] == b"IHDR":
        return struct.unpack(">II", data[16:24])
    return None


def _slack_file_refs(node: Any) -> Iterable[dict[str, Any]]:
    """Every slack_file object in a block tree (image blocks and image elements)."""
    if isinstance(node, dict):
        if isinstance(node.get("slack_file"), dict):
            yield node["slack_file"]
        for value in node.values():
            yield from _slack_file_refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _slack_file_refs(value)


def _parse_body(raw: bytes, content_type: str, query: str) -> dict[str, Any]:
    args: dict[str, Any] = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
    ctype = content_type.split(";")[0].strip().lower()
    if raw:
        if ctype == "application/json":
            data = json.loads(raw.decode("utf-8"))
            if not isinstance(data, dict):
                raise ValueError("JSON body is not an object")
            args.update(data)
        elif ctype == "multipart/form-data":
            msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
                f"Content-Type: {content_type}\r\n\r\n".encode() + raw
            )
            for part in msg.iter_parts():
                name = part.get_param("name", header="content-disposition")
                if name:
                    payload = part.get_payload(decode=True) or b""
                    args[name] = payload.decode("utf-8", "replace") if part.get_filename() is None else payload
        else:
            args.update({k: v[-1] for k, v in parse_qs(raw.decode("utf-8"), keep_blank_values=True).items()})
    for key in _JSON_ARGS:
        value = args.get(key)
        if isinstance(value, str) and value.strip()[:1] in ("[", "{"):
            args[key] = json.loads(value)
    return args


# --- what Slack would reject ----------------------------------------------------------------


def _texts(node: Any) -> Iterable[str]:
    if isinstance(node, dict):
        if node.get("type") in ("plain_text", "mrkdwn") and isinstance(node.get("text"), str):
            yield node["text"]
        for v in node.values():
            yield from _texts(v)
    elif isinstance(node, list):
        for v in node:
            yield from _texts(v)


def _too_long(obj: Any, limit: int) -> bool:
    text = obj.get("text") if isinstance(obj, dict) else None
    return not isinstance(text, str) or not text or len(text) > limit


def _element_error(el: dict[str, Any]) -> bool:
    if len(str(el.get("action_id", ""))) > _MAX_ID:
        return True
    if el.get("type") == "button":
        return _too_long(el.get("text"), _TEXT_LIMITS["button"]) or len(str(el.get("value", ""))) > _MAX_BUTTON_VALUE
    for opt in el.get("options", []) if el.get("type") in ("static_select", "overflow") else []:
        if _too_long(opt.get("text"), _TEXT_LIMITS["option"]) or len(str(opt.get("value", ""))) > _MAX_OPTION_VALUE:
            return True
    return False


def _blocks_error(blocks: Any, max_blocks: int) -> str | None:
    if not isinstance(blocks, list):
        return "invalid_blocks_format"
    if len(blocks) > max_blocks:
        return "invalid_blocks"
    ids: set[str] = set()
    for block in blocks:
        if not isinstance(block, dict):
            return "invalid_blocks_format"
        kind = block.get("type")
        bid = block.get("block_id")
        if bid is not None:
            if len(bid) > _MAX_ID or bid in ids:
                return "invalid_blocks"
            ids.add(bid)
        if kind == "header" and _too_long(block.get("text"), _TEXT_LIMITS["header"]):
            return "invalid_blocks"
        if kind == "section":
            if "text" in block and _too_long(block["text"], _TEXT_LIMITS["section"]):
                return "invalid_blocks"
            fields = block.get("fields", [])
            if len(fields) > _MAX_FIELDS or any(_too_long(f, _TEXT_LIMITS["field"]) for f in fields):
                return "invalid_blocks"
            if "accessory" in block and _element_error(block["accessory"]):
                return "invalid_blocks"
        if kind == "context":
            elements = block.get("elements", [])
            if not elements or len(elements) > 10:
                return "invalid_blocks"
        if kind == "actions":
            elements = block.get("elements", [])
            if not elements or len(elements) > 25 or any(_element_error(e) for e in elements):
                return "invalid_blocks"
        if kind == "image" and _image_error(block):
            return "invalid_blocks"
    return None


def _image_error(block: dict[str, Any]) -> bool:
    """An image block needs alt_text and exactly one source: image_url, or slack_file with
    exactly one of id (F...) and url."""
    alt = block.get("alt_text")
    if not isinstance(alt, str) or not alt or len(alt) > _MAX_IMAGE_TEXT:
        return True
    if "title" in block and _too_long(block["title"], _MAX_IMAGE_TEXT):
        return True
    has_url, ref = "image_url" in block, block.get("slack_file")
    if has_url == (ref is not None):
        return True
    if has_url:
        url = block["image_url"]
        return not isinstance(url, str) or not url or len(url) > _MAX_IMAGE_URL
    if not isinstance(ref, dict) or ("id" in ref) == ("url" in ref):
        return True
    if "id" in ref:
        return not isinstance(ref["id"], str) or not _FILE_ID.match(ref["id"])
    return not isinstance(ref["url"], str) or not ref["url"]


def _message_error(args: Mapping[str, Any], *, require_text: bool = True) -> str | None:
    blocks = args.get("blocks")
    if require_text and not args.get("text") and not blocks:
        return "no_text"
    if blocks is None:
        return None
    error = _blocks_error(blocks, _MAX_MESSAGE_BLOCKS)
    if error:
        return error
    if sum(len(t) for t in _texts(blocks)) > _MAX_MESSAGE_BLOCK_TEXT:
        return "msg_blocks_too_long"
    return None


def _view_error(view: Any, expected_type: str) -> str | None:
    if not isinstance(view, dict) or view.get("type") != expected_type:
        return "invalid_arguments"
    if expected_type == "modal" and _too_long(view.get("title"), _MAX_MODAL_TITLE):
        return "invalid_arguments"
    if _blocks_error(view.get("blocks", []), _MAX_VIEW_BLOCKS):
        return "invalid_arguments"
    return None


# --- requests Slack sends to the app ---------------------------------------------------------


def signed_request_headers(
    body: str | bytes, secret: str, timestamp: int | None = None, *, content_type: str | None = None
) -> dict[str, str]:
    """X-Slack-Signature / X-Slack-Request-Timestamp as Slack computes them:
    "v0=" + hex HMAC-SHA256(secret, "v0:{timestamp}:{body}")."""
    ts = int(time.time()) if timestamp is None else int(timestamp)
    raw = body.encode("utf-8") if isinstance(body, str) else body
    digest = hmac.new(secret.encode("utf-8"), b"v0:" + str(ts).encode() + b":" + raw, hashlib.sha256).hexdigest()
    headers = {"X-Slack-Signature": f"v0={digest}", "X-Slack-Request-Timestamp": str(ts)}
    if content_type:
        headers["Content-Type"] = content_type
    return headers


FORM = "application/x-www-form-urlencoded"
JSON_CONTENT = "application/json"


def slash_command_body(
    command: str,
    text: str = "",
    *,
    user_id: str = "U0ANA",
    user_name: str = "ana",
    channel_id: str = "C0CUSTSUCC",
    channel_name: str = "customer-success",
    response_url: str = "https://hooks.slack.com/commands/T0STUB/1/x",
    trigger_id: str = "trigger-1",
) -> str:
    """The form body Slack POSTs for a slash command."""
    return urlencode(
        {
            "token": "verification-token",
            "team_id": TEAM_ID,
            "team_domain": TEAM_DOMAIN,
            "channel_id": channel_id,
            "channel_name": channel_name,
            "user_id": user_id,
            "user_name": user_name,
            "command": command,
            "text": text,
            "api_app_id": APP_ID,
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": trigger_id,
        }
    )


def _find_element(blocks: Sequence[Mapping[str, Any]], action_id: str,
                  block_id: str | None) -> tuple[str | None, dict[str, Any]]:
    for block in blocks:
        if block_id is not None and block.get("block_id") != block_id:
            continue
        elements = list(block.get("elements", [])) if block.get("type") == "actions" else []
        if block.get("accessory"):
            elements.append(block["accessory"])
        for el in elements:
            if el.get("action_id") == action_id:
                return block.get("block_id"), dict(el)
    raise LookupError(f"no element with action_id {action_id!r}" + (f" in block {block_id!r}" if block_id else ""))


def block_actions_payload(
    blocks: Sequence[Mapping[str, Any]],
    action_id: str,
    *,
    block_id: str | None = None,
    option_value: str | None = None,
    user_id: str = "U0ANA",
    channel_id: str = "C0CUSTSUCC",
    message_ts: str = "1700000001.000100",
    response_url: str = "https://hooks.slack.com/actions/T0STUB/1/x",
    trigger_id: str = "trigger-1",
    view: Mapping[str, Any] | None = None,
    ephemeral: bool = False,
) -> dict[str, Any]:
    """The block_actions payload Slack sends when a user clicks an element of `blocks`.

    The element must exist (found by action_id, and block_id if given); for a select or
    overflow `option_value` must be one of its options, so a test clicks only what a user
    could. With `view`, the click comes from that modal/Home view instead of a message.
    With `ephemeral`, it comes from an ephemeral message: like Slack, the payload then
    carries no `message` (the app never gets the blocks back), only the container.
    """
    found_block_id, el = _find_element(blocks, action_id, block_id)
    action: dict[str, Any] = {
        "type": el["type"],
        "action_id": action_id,
        "block_id": found_block_id or "auto",
        "action_ts": f"{time.time():.6f}",
    }
    if el["type"] == "button":
        action["text"] = el["text"]
        if "value" in el:
            action["value"] = el["value"]
    elif el["type"] == "users_select":  # `option_value` is the user picked
        if not option_value:
            raise LookupError(f"{action_id!r} is a person picker: pass the user id as option_value")
        action["selected_user"] = option_value
        if "initial_user" in el:
            action["initial_user"] = el["initial_user"]
    else:
        chosen = next((o for o in el.get("options", []) if o.get("value") == option_value), None)
        if chosen is None:
            raise LookupError(f"{action_id!r} has no option with value {option_value!r}")
        action["selected_option"] = chosen
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": user_id, "username": user_id.lower(), "name": user_id.lower(), "team_id": TEAM_ID},
        "api_app_id": APP_ID,
        "token": "verification-token",
        "trigger_id": trigger_id,
        "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN},
        "enterprise": None,
        "is_enterprise_install": False,
        "actions": [action],
    }
    if view is not None:
        payload["container"] = {"type": "view", "view_id": view.get("id", "V0STUB")}
        payload["view"] = dict(view)
    else:
        payload["container"] = {"type": "message", "message_ts": message_ts, "channel_id": channel_id,
                                "is_ephemeral": ephemeral}
        payload["channel"] = {"id": channel_id, "name": "customer-success"}
        if not ephemeral:
            payload["message"] = {"type": "message", "ts": message_ts, "bot_id": BOT_ID, "text": "",
                                  "blocks": list(blocks)}
        payload["response_url"] = response_url
        payload["state"] = {"values": {}}
    return payload


def view_submission_payload(
    view: Mapping[str, Any],
    values: Mapping[str, Mapping[str, str]],
    *,
    user_id: str = "U0ANA",
    trigger_id: str = "trigger-submit",
) -> dict[str, Any]:
    """The view_submission payload Slack sends when a user submits a modal `view` (as the
    stand-in holds it: with id, hash and previous_view_id) with `values`
    ({block_id: {action_id: typed text}}). Every field must be an input of the view."""
    fields = {(b.get("block_id"), (b.get("element") or {}).get("action_id")): (b.get("element") or {}).get("type")
              for b in view.get("blocks", []) if b.get("type") == "input"}
    state: dict[str, dict[str, Any]] = {}
    for block_id, typed in values.items():
        for action_id, text in typed.items():
            kind = fields.get((block_id, action_id))
            if kind is None:
                raise LookupError(f"no input {block_id}/{action_id} in the view")
            state.setdefault(block_id, {})[action_id] = (
                {"type": kind, "selected_user": text} if kind == "users_select" else {"type": kind, "value": text})
    return {
        "type": "view_submission",
        "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN},
        "user": {"id": user_id, "username": user_id.lower(), "name": user_id.lower(), "team_id": TEAM_ID},
        "api_app_id": APP_ID,
        "token": "verification-token",
        "trigger_id": trigger_id,
        "view": {**dict(view), "state": {"values": state}},
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }


def interaction_body(payload: Mapping[str, Any]) -> str:
    """The form body Slack POSTs for an interaction: payload=<json>."""
    return urlencode({"payload": json.dumps(payload)})


def app_home_opened_body(user_id: str = "U0ANA", *, event_id: str = "Ev0001") -> str:
    """The JSON body of an app_home_opened event callback."""
    return json.dumps(
        {
            "token": "verification-token",
            "team_id": TEAM_ID,
            "api_app_id": APP_ID,
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(time.time()),
            "event": {"type": "app_home_opened", "user": user_id, "channel": "D0" + user_id, "tab": "home",
                      "event_ts": f"{time.time():.6f}"},
        }
    )
