"""The weekly digest: what it holds, and posting it exactly once per channel and week.

Exactly once, across restarts and replicas, rests on the database, not on the scheduler:

1. The channel name is resolved to an id (cached), so the claim is keyed on something a
   rename cannot change.
2. The period is the ISO week of the latest scheduled local time (digest_schedule).
3. A ``DigestClaim`` row (unique application, channel, period) is INSERTed in its own short
   transaction. An IntegrityError means another process has the week: skip and log.
4. The charts (Revenue × Health map, MRR trend) are drawn by the Slack app and uploaded,
   once per claimed digest: the file ids are kept on the claim (``DigestClaim.charts``)
   before anything is posted, so an in-process retry reuses the same message and a later
   run that takes the claim over shows the same files instead of uploading them again. A
   chart that fails to draw or upload is left out; the digest goes out without it.
5. The message is posted; success records ``message_ts`` and status ``posted``. If Slack
   refuses the message for its images (invalid_blocks: a file still processing, say), it is
   posted at once without them.

Failures, and why nothing is silently lost:

* A retryable Slack failure (rate limit, 5xx, network) is retried in-process a few times
  with backoff (``slack.digest_post_attempts``). If it still fails the claim becomes
  ``retry``: the next run inside the grace period (the periodic check every
  ``slack.outbox_flush_minutes``, or a restart) takes it over and posts.
* A 5xx, timeout or dropped connection may come *after* Slack posted the message, so the
  post goes through a client without the SDK's own 5xx/connection retries
  (``bot.client.posting_client``), and every retry after such a failure first looks for
  the digest's metadata in the channel history, exactly as a takeover does: when it is
  there, its ts is recorded and nothing is posted again. A rate limit (nothing was posted)
  is retried without looking.
* A permanent failure (channel not found, bot not in channel, bad token, bad request) makes
  the claim ``failed`` with the error; runs do not retry it by themselves (they would fail
  the same way), ``saas-tracker digest --now`` does once the cause is fixed.
* A process that dies between claiming and recording the result leaves the claim
  ``claimed``. After ``slack.digest_claim_stale_minutes`` (longer than any in-process
  retry) the next run may take it over. Because the dead process may have posted before
  dying, every post carries message metadata (application and period) and a takeover first
  looks for that message in the channel's recent history; only when it is not there (or
  history can't be read) is the digest posted. The remaining risk is a duplicate, never a
  silently missing digest: we prefer a second copy over none.
* Missed runs: when the scheduled time was missed (the process was down) and no claim
  exists, the next run posts it if it is at most ``slack.digest_grace_hours`` late; later
  than that the week is skipped, with a log line saying why. ``--now`` (a forced period)
  ignores the grace.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from services import reviews, segmentation, signal_list
from domain.config import Config
from services.digest_schedule import current_period, digest_timezone
from services.delivery import backoff_delay
from services.ports import ChannelNotFound, DeliveryError, ErrorCategory, SendFailure, SlackPort
from services.read_models import Digest
from services.read_models import SummaryCards
from storage import db, digest_claims
from storage.db import find_application
from storage.models import DigestClaim

log = logging.getLogger(__name__)

CLAIM_CLAIMED = "claimed"
CLAIM_POSTED = "posted"
CLAIM_RETRY = "retry"  # a retryable failure: the next run within the grace period posts
CLAIM_FAILED = "failed"  # a permanent failure: only a forced run (digest --now) retries

DIGEST_EVENT_TYPE = "saas_tracker_digest"

# Outcome statuses returned to callers (scheduler, CLI).
POSTED = "posted"
SKIPPED = "skipped"
FAILED = "failed"


@dataclass(frozen=True)
class DigestOutcome:
    status: str  # posted | skipped | failed
    period: str
    channel: str
    reason: str
    message_ts: str | None = None


def build_digest(session: Session, app_id: int, now: dt.datetime, cfg: Config) -> Digest:
    """Read the digest's numbers as of `now` (the latest scan's signals and snapshots)."""
    from services import revenue  # pulls in pandas-heavy scoring modules
    from scoring import revenue as rev

    app = db.application_by_id(session, app_id)
    if app is None:
        raise LookupError(f"no application with id {app_id}")
    period, fire = current_period(cfg, now)
    local_today = now.astimezone(digest_timezone(cfg)).date()
    week_start = local_today - dt.timedelta(days=7)
    week_end = local_today - dt.timedelta(days=1)

    listing = signal_list.list_signals(session, app_id, now, signal_list.SignalFilter(top=cfg.slack.digest_top), cfg)

    # The cells as of the digest's local day: the segmentation list_signals just read when
    # that is also the UTC day (services.segmentation caches it between scans), else built once here.
    seg = segmentation.segmentation_for_day(session, app_id, local_today, cfg)
    subs = seg.subscriptions
    total_mrr: float | None = None
    net_new: float | None = None
    if len(subs):
        # Net new MRR of the seven days before today: MRR at the end of yesterday minus MRR
        # at the end of the day before the week (the identity scoring.revenue keeps to the cent).
        total_mrr = rev.total_mrr(subs, local_today)
        net_new = round(rev.total_mrr(subs, week_end) - rev.total_mrr(subs, week_start - dt.timedelta(days=1)), 2)
    segments = seg.segments
    due, due_total = reviews.reviews_due(session, app_id, seg, now, cfg)
    scheduled_day = fire.astimezone(digest_timezone(cfg)).date()
    moves = None
    moves_total, moves_since = 0, None
    if reviews.is_monthly_digest(scheduled_day):
        found, moves_total, moves_since = reviews.tier_moves(session, app_id, seg, local_today, cfg)
        moves = tuple(found)
    cards = SummaryCards(
        orgs_with_signals=listing.cards.orgs_with_signals,
        mrr_at_risk=listing.cards.mrr_at_risk,
        opened_this_week=listing.cards.opened_this_week,
        resolved_this_week=listing.cards.resolved_this_week,
        scanned_at=listing.cards.scanned_at,
        net_new_mrr_this_week=net_new,
        active_signals=listing.cards.active_signals,
        onboarding_mrr=listing.cards.onboarding_mrr,
    )
    return Digest(
        application=app.name,
        period=period,
        scheduled_for=fire.astimezone(digest_timezone(cfg)),
        now=now,
        week_start=week_start,
        week_end=week_end,
        cards=cards,
        total_mrr=total_mrr,
        total_arr=float(rev.arr(total_mrr)) if total_mrr is not None else None,
        items=listing.items,
        total=listing.total,
        cells=revenue.cell_views(segments.summary),
        unscored=segments.unscored,
        mrr_trend=tuple(mrr_trend(subs, local_today)) if len(subs) else (),
        reviews_due=tuple(due),
        reviews_due_total=due_total,
        tier_moves=moves,
        tier_moves_total=moves_total,
        tier_moves_since=moves_since,
    )


TREND_MONTHS = 12


def mrr_trend(subs: Any, today: dt.date, months: int = TREND_MONTHS) -> list[tuple[dt.date, float]]:
    """(first day of the month, total MRR at its end) for the `months` months up to today's;
    the current month's value is today's MRR."""
    from scoring import revenue as rev

    first = today.replace(day=1)
    starts = []
    for _ in range(months):
        starts.append(first)
        first = (first - dt.timedelta(days=1)).replace(day=1)
    trend = []
    for start in reversed(starts):
        following = (start + dt.timedelta(days=32)).replace(day=1)
        trend.append((start, rev.total_mrr(subs, min(following - dt.timedelta(days=1), today))))
    return trend


def digest_metadata(application: str, period: str) -> dict[str, Any]:
    """Slack message metadata that lets a takeover recognise a digest already posted."""
    return {"event_type": DIGEST_EVENT_TYPE, "event_payload": {"application": application, "period": period}}


# --- claims -------------------------------------------------------------------------------


def _may_take_over(claim: DigestClaim, now: dt.datetime, cfg: Config, forced: bool) -> bool:
    if claim.status == CLAIM_POSTED:
        return False
    if claim.status == CLAIM_CLAIMED:
        return now - claim.claimed_at > dt.timedelta(minutes=cfg.slack.digest_claim_stale_minutes)
    if claim.status == CLAIM_RETRY:
        return True
    return forced  # CLAIM_FAILED


def _describe_claim(claim: DigestClaim) -> str:
    if claim.status == CLAIM_POSTED:
        return f"already posted (ts {claim.message_ts}) by {claim.claimed_by} at {claim.posted_at:%Y-%m-%d %H:%M} UTC"
    if claim.status == CLAIM_CLAIMED:
        return f"being posted by {claim.claimed_by} since {claim.claimed_at:%Y-%m-%d %H:%M:%S} UTC"
    return f"{claim.status} earlier: {claim.error}"


@dataclass(frozen=True)
class _Claim:
    id: int
    taken_over: bool  # True: an earlier claim was taken over (its poster may have posted)
    since: dt.datetime  # when the earlier claim was made (history is searched from then)


def claim_period(factory: sessionmaker[Session], app_id: int, channel: str, period: str, now: dt.datetime,
                 claimed_by: str, cfg: Config, forced: bool = False) -> tuple[_Claim | None, str]:
    """Claim the period for this process; (None, why not) when someone else has it."""
    claim_id = digest_claims.insert_claim(factory, app_id, channel, period, now, claimed_by, CLAIM_CLAIMED)
    if claim_id is not None:
        return _Claim(claim_id, False, now), "claimed"
    with factory() as session, session.begin():
        existing = digest_claims.find_claim(session, app_id, channel, period)
        if existing is None:  # deleted between our insert and this read: let the next run try
            return None, "claim vanished while being taken"
        if not _may_take_over(existing, now, cfg, forced):
            return None, _describe_claim(existing)
        earlier = _describe_claim(existing)
        since = existing.claimed_at
        if not digest_claims.take_over(session, existing, now, claimed_by, CLAIM_CLAIMED):
            return None, "taken over by another process just now"
        log.warning("digest %s for %s: taking over claim %s (%s)", period, channel, existing.id, earlier)
        return _Claim(existing.id, True, since), "taken over"


# --- posting ------------------------------------------------------------------------------

def post_weekly_digest(
    factory: sessionmaker[Session],
    slack: SlackPort,
    cfg: Config,
    now: dt.datetime,
    claimed_by: str,
    force_period: str | None = None,
    *,
    quiet: bool = False,
    sleep: Callable[[float], None] = time.sleep,
) -> DigestOutcome:
    """Post this week's digest unless it was already posted; safe to call from many processes.

    Without `force_period` the period is the one of the latest scheduled time, and it is
    only posted within `slack.digest_grace_hours` of that time. With it (``digest --now``)
    that period is posted whatever the time, and a permanently failed claim is retried.
    `quiet` logs routine skips (already posted, claimed elsewhere, too late) at debug level:
    the periodic check calls this every few minutes; the cron run and start-up log them.
    """
    now = now.astimezone(dt.timezone.utc)
    forced = force_period is not None
    period, fire = current_period(cfg, now)
    if force_period is not None:
        period = force_period
    channel_name = cfg.slack.digest_channel

    with factory() as session:
        app = find_application(session, cfg.application)
        app_id = app.id if app is not None else None
    if app_id is None:
        reason = f"application {cfg.application!r} has no data yet: nothing to digest"
        log.log(logging.DEBUG if quiet else logging.WARNING, "digest %s: %s", period, reason)
        return DigestOutcome(SKIPPED, period, channel_name, reason)

    try:
        channel = slack.resolve_channel(channel_name)
    except ChannelNotFound as exc:
        log.error("digest %s not posted: %s", period, exc)
        return DigestOutcome(FAILED, period, channel_name, str(exc))
    except DeliveryError as exc:  # Slack unreachable: the next run within the grace period retries
        failure = exc.failure
        log.error("digest %s not posted: could not look up channel %s: %s", period, channel_name, failure.error)
        return DigestOutcome(FAILED, period, channel_name, f"channel lookup failed: {failure.error}")

    with factory() as session:
        existing = digest_claims.find_claim(session, app_id, channel, period)
        if existing is not None and not _may_take_over(existing, now, cfg, forced):
            reason = _describe_claim(existing)
            log.log(logging.DEBUG if quiet else logging.INFO, "digest %s for %s: %s", period, channel_name, reason)
            return DigestOutcome(SKIPPED, period, channel, reason, existing.message_ts)

    late = now - fire
    if not forced and late > dt.timedelta(hours=cfg.slack.digest_grace_hours):
        reason = (f"scheduled for {fire:%Y-%m-%d %H:%M %Z}, {late.total_seconds() / 3600:.1f} h ago, beyond the "
                  f"grace of {cfg.slack.digest_grace_hours:g} h: skipping this week's digest")
        log.log(logging.DEBUG if quiet else logging.WARNING, "digest %s for %s not posted: %s", period, channel_name,
                reason)
        return DigestOutcome(SKIPPED, period, channel, reason)

    with factory() as session:
        digest = build_digest(session, app_id, now, cfg)
    digest = _with_period(digest, period)
    message = slack.digest(digest, now, cfg)  # built (and checked) before claiming, without images

    claim, why = claim_period(factory, app_id, channel, period, now, claimed_by, cfg, forced)
    if claim is None:
        log.log(logging.DEBUG if quiet else logging.INFO, "digest %s for %s: skipped, %s", period, channel_name, why)
        return DigestOutcome(SKIPPED, period, channel, why)

    plain: dict[str, Any] | None = None
    images = digest_images(factory, slack, cfg, claim.id, claimed_by, digest)
    if images:
        plain, message = message, slack.digest(digest, now, cfg, images=images)
    return _post_claimed(factory, slack, cfg, claim, claimed_by, channel, period, message,
                         digest_metadata(digest.application, period), now, sleep, plain=plain)


def digest_images(factory: sessionmaker[Session], slack: SlackPort, cfg: Config, claim_id: int, claimed_by: str,
                  digest: Digest) -> dict[str, str]:
    """{chart name: Slack file id} for the claimed digest: the files an earlier attempt at
    this claim uploaded, or else the charts drawn and uploaded now — and remembered on the
    claim before anything is posted, so no retry uploads them again."""
    kept = digest_claims.charts_of(factory, claim_id)
    if kept is not None:
        return {str(k): str(v) for k, v in kept.items()}
    if not cfg.slack.charts:
        return {}
    try:
        charts = list(slack.digest_charts(digest, cfg))
    except Exception:  # a chart is an extra: the digest goes out without it
        log.exception("digest %s: the charts could not be drawn; posting without them", digest.period)
        return {}
    uploaded: dict[str, str] = {}
    for chart in charts:
        file_id = slack.upload_image(chart.png, chart.filename, chart.title, chart.alt_text)
        if file_id:
            uploaded[chart.name] = file_id
        else:
            log.warning("digest %s: chart %s not uploaded; posting without it", digest.period, chart.name)
    digest_claims.finish_claim(factory, claim_id, claimed_by, charts=uploaded)
    return uploaded


def _with_period(digest: Digest, period: str) -> Digest:
    return digest if digest.period == period else replace(digest, period=period)


def _post_claimed(factory: sessionmaker[Session], slack: SlackPort, cfg: Config, claim: _Claim, claimed_by: str,
                  channel: str, period: str, message: dict[str, Any], metadata: dict[str, Any],
                  now: dt.datetime, sleep: Callable[[float], None],
                  plain: dict[str, Any] | None = None) -> DigestOutcome:
    """Post, retrying in-process; whenever an earlier post may have gone through (a taken-over
    claim, or an attempt that failed ambiguously) look in the channel history first. `plain`
    is the message without its images, posted instead when Slack refuses the images."""
    failure: SendFailure | None = None  # the last failure, of a post or of a history read
    ambiguous: SendFailure | None = None  # our last post that may have gone through
    unsure = claim.taken_over  # the previous poster may have posted before it died
    attempts = cfg.slack.digest_post_attempts
    for attempt in range(1, attempts + 1):
        if unsure:
            earlier = slack.find_earlier_post(channel, metadata, claim.since)
            if earlier.ts is not None:
                digest_claims.finish_claim(factory, claim.id, claimed_by, status=CLAIM_POSTED, posted_at=now,
                              message_ts=earlier.ts, error=None)
                if ambiguous is None:  # a takeover: the earlier poster's message
                    reason = f"found in the channel already (ts {earlier.ts}): recorded, not posted again"
                    log.warning("digest %s for %s: %s", period, channel, reason)
                    return DigestOutcome(SKIPPED, period, channel, reason, earlier.ts)
                reason = (f"posted (ts {earlier.ts}): the attempt that failed with {ambiguous.error} "
                          "had gone through; not posted again")
                log.warning("digest %s for %s: %s", period, channel, reason)
                return DigestOutcome(POSTED, period, channel, reason, earlier.ts)
            if earlier.unknown:
                assert earlier.failure is not None
                failure = replace(earlier.failure, error=f"{earlier.failure.error} reading the channel history")
                log.warning("digest %s: can't tell whether an earlier post went through (%s); not posting yet",
                            period, failure.error)
                if not _wait_to_retry(cfg, attempt, attempts, failure, sleep):
                    break
                continue
            if earlier.failure is not None:  # no history scope, say: a second copy beats none
                log.warning("digest %s: could not read %s history to check for an earlier post (%s); posting",
                            period, channel, earlier.failure.error)
        try:
            try:
                ts = slack.post(channel, message, metadata)
            except DeliveryError as refused:
                if plain is None or refused.failure.category != ErrorCategory.BAD_REQUEST:
                    raise
                # An answer from Slack (nothing was posted): the images were the problem.
                log.warning("digest %s: Slack refused it with its charts (%s); posting it without them",
                            period, refused.failure.error)
                message, plain = plain, None
                ts = slack.post(channel, message, metadata)
        except DeliveryError as exc:
            failure = exc.failure
            if failure.may_have_posted:
                ambiguous, unsure = failure, True
            log.warning("digest %s: post attempt %d/%d failed: %s (%s)", period, attempt, attempts,
                        failure.error, failure.category.value)
            if not _wait_to_retry(cfg, attempt, attempts, failure, sleep):
                break
            continue
        digest_claims.finish_claim(factory, claim.id, claimed_by, status=CLAIM_POSTED, posted_at=now, message_ts=ts,
                                   error=None)
        log.info("digest %s posted to %s (ts %s)", period, channel, ts)
        return DigestOutcome(POSTED, period, channel, "posted", ts)

    assert failure is not None
    status = CLAIM_RETRY if failure.retryable else CLAIM_FAILED
    error = f"{failure.category.value}: {failure.error}"
    digest_claims.finish_claim(factory, claim.id, claimed_by, status=status, error=error)
    if failure.retryable:
        log.error("digest %s not posted after %d attempts (%s); the next run within the grace period retries",
                  period, attempts, error)
    else:
        log.error("digest %s not posted: %s; fix it and run `saas-tracker digest --now`", period, error)
    return DigestOutcome(FAILED, period, channel, error)


def _wait_to_retry(cfg: Config, attempt: int, attempts: int, failure: SendFailure,
                   sleep: Callable[[float], None]) -> bool:
    """Sleep before the next in-process attempt; False when there is none to make."""
    if not failure.retryable or attempt == attempts:
        return False
    # Every wait stays well inside the stale-claim window, so a live poster is never
    # mistaken for a dead one; a longer Retry-After releases the claim to the next run.
    cap = cfg.slack.digest_claim_stale_minutes * 60 / (2 * attempts)
    delay = backoff_delay(attempt, cfg.slack.digest_retry_seconds, cap, failure.retry_after)
    if delay > cap:
        return False
    sleep(delay)
    return True
