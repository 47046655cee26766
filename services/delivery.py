"""How long to wait before trying a failed Slack post again.

Both delivery paths (the weekly digest and the alert outbox) back off the same way: a rate
limit waits at least Slack's Retry-After, a server or network error backs off
exponentially, and a channel, auth or request error is final until a person fixes its
cause (``services.ports.SendFailure.retryable``).
"""

from __future__ import annotations


def backoff_delay(attempt: int, base: float, cap: float, retry_after: float | None = None) -> float:
    """Seconds to wait after failed attempt number `attempt` (1-based).

    base × 2^(attempt − 1), capped at `cap`; Slack's Retry-After always wins when longer,
    because retrying earlier only earns another 429.
    """
    delay = min(cap, base * (2 ** max(attempt - 1, 0)))
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay
