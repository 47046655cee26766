"""Slack fixtures: a running Slack Web API stand-in and a WebClient pointed at it.

Loaded from tests/conftest.py, so every test can ask for `slack_stub`, `slack_client`
or `slack_signing_secret`.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from slack_sdk import WebClient

from bot.client import make_web_client
from slack_stub import SlackStub, signed_request_headers

SIGNING_SECRET = "stub-signing-secret"

__all__ = ["SIGNING_SECRET", "signed_request_headers", "slack_client", "slack_signing_secret", "slack_stub"]


@pytest.fixture
def slack_stub() -> Iterator[SlackStub]:
    """A fresh stand-in per test, on 127.0.0.1 and a free port."""
    with SlackStub() as stub:
        yield stub


@pytest.fixture
def slack_client(slack_stub: SlackStub) -> WebClient:
    """The app's own WebClient (retry handlers included) talking to the stand-in; short
    backoff so retry tests stay fast."""
    return make_web_client(slack_stub.token, slack_stub.base_url, backoff_factor=0.01)


@pytest.fixture
def slack_signing_secret() -> str:
    return SIGNING_SECRET
