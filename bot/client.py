"""The one way the app builds a Slack WebClient.

slack_sdk retries only connection errors by default; a digest that hits Slack's
1-message-per-second-per-channel limit or a 503 would simply fail. This client also waits
out 429s (honouring Retry-After) and retries 500/503, and its base URL is configurable so
tests and staging can point it at a local Slack API stand-in.

Those server-error and connection retries are only safe for calls that change nothing. A
chat.postMessage that times out or gets a 5xx may well have posted, and the SDK would
silently post it again, so the posting paths (digest, alerts) send through
``posting_client``: rate-limit retries only (a 429 means nothing was posted); any other
failure reaches the caller, which looks in the channel history before trying again.
"""

from __future__ import annotations

import copy
import logging
import os
from collections.abc import Mapping
from typing import Any

from slack_sdk import WebClient
from slack_sdk.http_retry import (
    BackoffRetryIntervalCalculator,
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    RetryHandler,
)
from slack_sdk.http_retry.builtin_handlers import ServerErrorRetryHandler

from domain.config import DEFAULT_SLACK_API_URL, Config

SLACK_API_URL_ENV = "SLACK_API_URL"
DEFAULT_TIMEOUT_SECONDS = 30
DEFAULT_RATE_LIMIT_RETRIES = 3
DEFAULT_SERVER_ERROR_RETRIES = 2
DEFAULT_CONNECTION_RETRIES = 2
DEFAULT_BACKOFF_FACTOR = 0.5


def resolve_api_url(cfg: Config | None = None, env: Mapping[str, str] | None = None) -> str:
    """SLACK_API_URL from the environment wins, then the config file, then Slack's own."""
    env = os.environ if env is None else env
    url = env.get(SLACK_API_URL_ENV) or (cfg.slack.api_url if cfg is not None else "") or DEFAULT_SLACK_API_URL
    return url if url.endswith("/") else url + "/"


def retry_handlers(
    *,
    rate_limit_retries: int = DEFAULT_RATE_LIMIT_RETRIES,
    server_error_retries: int = DEFAULT_SERVER_ERROR_RETRIES,
    connection_retries: int = DEFAULT_CONNECTION_RETRIES,
    backoff_factor: float = DEFAULT_BACKOFF_FACTOR,
    posting: bool = False,
) -> list[RetryHandler]:
    """The SDK's own retries; ``posting`` keeps only the rate-limit one (see the module doc)."""
    if posting:
        return [RateLimitErrorRetryHandler(max_retry_count=rate_limit_retries)]
    interval = BackoffRetryIntervalCalculator(backoff_factor=backoff_factor)
    return [
        ConnectionErrorRetryHandler(max_retry_count=connection_retries, interval_calculator=interval),
        RateLimitErrorRetryHandler(max_retry_count=rate_limit_retries),
        ServerErrorRetryHandler(max_retry_count=server_error_retries, interval_calculator=interval),
    ]


def make_web_client(
    token: str | None,
    base_url: str | None = None,
    *,
    timeout: int = DEFAULT_TIMEOUT_SECONDS,
    rate_limit_retries: int = DEFAULT_RATE_LIMIT_RETRIES,
    server_error_retries: int = DEFAULT_SERVER_ERROR_RETRIES,
    connection_retries: int = DEFAULT_CONNECTION_RETRIES,
    backoff_factor: float = DEFAULT_BACKOFF_FACTOR,
    logger: logging.Logger | None = None,
    posting: bool = False,
) -> WebClient:
    """A WebClient that retries rate limits, 500/503 and connection errors (with `posting`,
    rate limits only: the client for sending messages, see the module doc).

    `base_url` None means resolve_api_url() (SLACK_API_URL, else Slack's own URL); pass
    resolve_api_url(cfg) to honour the config file's slack.api_url.
    """
    return WebClient(
        token=token,
        base_url=base_url or resolve_api_url(),
        timeout=timeout,
        logger=logger,
        retry_handlers=retry_handlers(
            rate_limit_retries=rate_limit_retries,
            server_error_retries=server_error_retries,
            connection_retries=connection_retries,
            backoff_factor=backoff_factor,
            posting=posting,
        ),
    )


def posting_client(client: Any) -> Any:
    """`client` as a posting client: the same token, URL and timeout, keeping only its
    rate-limit retries. The delivery services call this on whatever client they are given
    (the app's shared one retries 5xx for the reads and clicks that are safe to repeat)."""
    handlers = getattr(client, "retry_handlers", None)
    if handlers is None:
        return client
    kept = [h for h in handlers if isinstance(h, RateLimitErrorRetryHandler)]
    if len(kept) == len(handlers):
        return client
    poster = copy.copy(client)
    poster.retry_handlers = kept
    return poster
