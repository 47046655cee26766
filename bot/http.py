"""HTTP mode: Slack's endpoints and a health check as one WSGI app, served by waitress.

`/slack/events` takes slash commands, clicks and events (Bolt verifies the signature and
refuses stale timestamps); `/healthz` answers a load balancer with the database's state.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"


def make_wsgi_app(app: App, factory: sessionmaker[Session]) -> Callable[..., Iterable[bytes]]:
    slack = SlackRequestHandler(app, path=EVENTS_PATH)

    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == HEALTH_PATH:
            try:
                with factory() as session:
                    session.execute(text("SELECT 1"))
                status, body = "200 OK", {"ok": True, "database": "ok"}
            except Exception as exc:  # reported to the load balancer, not raised
                log.error("health check: database unreachable: %s", exc)
                status, body = "503 Service Unavailable", {"ok": False, "database": "unreachable"}
            payload = json.dumps(body).encode()
            start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))])
            return [payload]
        return slack(environ, start_response)

    return wsgi


def make_server(app: App, factory: sessionmaker[Session], host: str = "0.0.0.0", port: int = 3000, threads: int = 8):
    """A waitress server (production-grade, threaded); `.run()` serves, `.close()` stops."""
    from waitress import create_server

    return create_server(make_wsgi_app(app, factory), host=host, port=port, threads=threads)
