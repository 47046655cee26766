"""HTTP mode: Slack's endpoint, a health check and the metrics as one WSGI app, served by
waitress.

* ``POST /slack/events`` takes slash commands, clicks and events. Bolt verifies the
  signature and refuses stale timestamps (401); before that, a request Bolt could not even
  read is answered here with 400 or 401 instead of failing with 500: no signature headers
  (401), a timestamp that is not a number (400), a body that is not UTF-8 or whose payload
  is not JSON (400 when the signature is valid, 401 when it is not). Bolt's own lazy-listener
  headers are dropped: only Bolt may set them, never a caller.
* ``GET /healthz`` answers a load balancer with the database's state (503 when unreachable).
* ``GET /metrics`` serves ``bot.metrics`` as JSON: per endpoint, count, errors and the
  acknowledgement and work times (p50, p99, max), and the requests refused and why.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from typing import Any

from slack_bolt import App, BoltRequest, BoltResponse
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_bolt.adapter.wsgi.http_request import WsgiHttpRequest
from slack_sdk.signature import SignatureVerifier

from bot.metrics import Metrics
from services.tracker import Tracker

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
METRICS_PATH = "/metrics"

# Sized for bursts (a team running /signals at the Monday stand-up): each thread only
# verifies, claims the request key and acknowledges; the work runs on the listener pool.
HTTP_THREADS = 32
CONNECTION_LIMIT = 500

_BOLT_INTERNAL_HEADERS = ("x-slack-bolt-lazy-only", "x-slack-bolt-lazy-function-name")


class SlackEndpoint(SlackRequestHandler):
    """Bolt's WSGI adapter, refusing what Bolt can't read before it gets there."""

    def __init__(self, app: App, signing_secret: str, metrics: Metrics, path: str = EVENTS_PATH) -> None:
        super().__init__(app, path=path)
        self._verifier = SignatureVerifier(signing_secret)
        self._metrics = metrics

    def _refuse(self, status: int, why: str) -> BoltResponse:
        self._metrics.refused("malformed" if status == 400 else "unsigned")
        log.warning("Slack request refused (%s): %s", status, why)
        return BoltResponse(status=status, body={"error": why})

    def dispatch(self, request: WsgiHttpRequest) -> BoltResponse:
        self._metrics.receiving()
        try:
            return self._dispatch(request)
        finally:
            self._metrics.received()

    def _dispatch(self, request: WsgiHttpRequest) -> BoltResponse:
        headers = {k: v for k, v in request.get_headers().items() if k not in _BOLT_INTERNAL_HEADERS}
        timestamp = headers.get("x-slack-request-timestamp")
        signature = headers.get("x-slack-signature")
        if not timestamp or not signature:
            return self._refuse(401, "missing X-Slack-Request-Timestamp or X-Slack-Signature")
        if not isinstance(timestamp, str) or not timestamp.isascii() or not timestamp.isdigit():
            return self._refuse(400, "X-Slack-Request-Timestamp is not a number")
        try:
            body = request.get_body()
        except (ValueError, OSError):  # not UTF-8, or a Content-Length that is not a number
            return self._refuse(400, "unreadable body")
        try:
            bolt_request = BoltRequest(body=body, query=request.query_string, headers=headers)
        except Exception:  # a payload Bolt can't parse (not JSON, not an object)
            if not self._verifier.is_valid(body, timestamp, str(signature)):
                return self._refuse(401, "invalid request")
            return self._refuse(400, "payload is not a JSON object")
        return self.app.dispatch(bolt_request)


def _json(start_response: Callable[..., Any], status: str, body: dict[str, Any]) -> Iterable[bytes]:
    payload = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))])
    return [payload]


def make_wsgi_app(app: App, tracker: Tracker, signing_secret: str,
                  metrics: Metrics | None = None) -> Callable[..., Iterable[bytes]]:
    metrics = metrics if metrics is not None else Metrics()
    slack = SlackEndpoint(app, signing_secret, metrics)

    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == HEALTH_PATH:
            if tracker.database_reachable():
                return _json(start_response, "200 OK", {"ok": True, "database": "ok"})
            log.error("health check: database unreachable")
            return _json(start_response, "503 Service Unavailable", {"ok": False, "database": "unreachable"})
        if path == METRICS_PATH:
            return _json(start_response, "200 OK", metrics.snapshot())
        return slack(environ, start_response)

    return wsgi


def make_server(app: App, tracker: Tracker, signing_secret: str, *, host: str = "0.0.0.0", port: int = 3000,
                threads: int = HTTP_THREADS, metrics: Metrics | None = None) -> Any:
    """A waitress server (production-grade, threaded); `.run()` serves, `.close()` stops."""
    from waitress.server import create_server

    return create_server(make_wsgi_app(app, tracker, signing_secret, metrics), host=host, port=port,
                         threads=threads, connection_limit=CONNECTION_LIMIT)
