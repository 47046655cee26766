"""The digest's charts, review cadence and monthly tier moves: charts uploaded once per digest
(also across a retry by another process), shown as images, left out when the upload fails or
Slack refuses them; reviews due and tier moves in the message and the terminal text."""

from __future__ import annotations

import datetime as dt
import io
import logging
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image
from sqlalchemy import select

from bot.client import make_web_client
from bot.delivery import SlackDelivery
from bot.digest_messages import digest_message
from bot.limits import validate_message
from cli import cli
from delivery_helpers import SEEN, seed_orgs
from domain.config import Config
from services.digest import build_digest, post_weekly_digest
from services.scanning import run_scan
from services.tracker import Tracker
from storage.models import Application, DigestClaim

UTC = dt.timezone.utc
CFG = Config()
SCAN_AT = SEEN + dt.timedelta(days=14)  # Thu 2026-10-15 12:00 UTC
MONDAY_0900 = dt.datetime(2026, 10, 19, 8, 0, tzinfo=UTC)  # 09:00 in London
FIRST_MONDAY_0900 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # the first digest of November (GMT)


def _client(stub):
    return make_web_client(stub.token, stub.base_url, rate_limit_retries=0, server_error_retries=0,
                           connection_retries=0)


def _app_id(factory) -> int:
    with factory() as s:
        return s.scalar(select(Application.id).where(Application.name == CFG.application))


def _claim(factory) -> DigestClaim:
    with factory() as s:
        (claim,) = s.scalars(select(DigestClaim)).all()
        return claim


def _images(blocks: list[dict]) -> list[dict]:
    return [b for b in blocks if b.get("type") == "image"]


@pytest.fixture
def scanned(session_factory):
    seed_orgs(session_factory, {"acme": 50_000, "globex": 20_000, "initech": 5_000, "free": 0},
              names={"acme": "Acme", "globex": "Globex", "initech": "Initech", "free": "Free Co"},
              starts={"initech": dt.date(2026, 10, 13)})
    run_scan(session_factory, CFG, SCAN_AT)
    return session_factory


def test_the_digest_uploads_its_two_charts_once_and_shows_them(scanned, slack_stub) -> None:
    out = post_weekly_digest(scanned, SlackDelivery(_client(slack_stub)), CFG, MONDAY_0900, "w")
    assert out.status == "posted"
    files = slack_stub.uploaded_files
    assert [f.filename for f in files] == ["revenue-health-2026-W43.png", "mrr-trend-2026-W43.png"]
    for f in files:
        image = Image.open(io.BytesIO(f.data))
        assert image.format == "PNG" and image.size == (800, 400) and f.channel is None
        colours = image.convert("RGB").getcolors(maxcolors=800 * 400)
        assert colours is not None and len(colours) > 50
    posted = slack_stub.posted[0]["blocks"]
    assert [b["slack_file"]["id"] for b in _images(posted)] == [f.file_id for f in files]
    assert _images(posted)[0]["alt_text"].startswith("Revenue × Health map, each cell's disc sized by its MRR — "
                                                     "Retention: 2 orgs, $70,000 MRR")
    # The images sit right after the Revenue × Health cells.
    cells_end = max(i for i, b in enumerate(posted) if b.get("text", {}).get("text", "").startswith("*Expansion*"))
    assert [b["type"] for b in posted[cells_end + 1:cells_end + 3]] == ["image", "image"]
    assert _claim(scanned).charts == {"revenue_health_map": files[0].file_id, "mrr_trend": files[1].file_id}


def test_a_retry_by_another_process_shows_the_same_files_without_uploading_again(scanned, slack_stub) -> None:
    client = _client(slack_stub)
    slack_stub.fail_next("chat.postMessage", status=500, times=3)
    first = post_weekly_digest(scanned, SlackDelivery(client), CFG, MONDAY_0900, "w1", sleep=lambda s: None)
    assert first.status == "failed" and _claim(scanned).status == "retry"
    again = post_weekly_digest(scanned, SlackDelivery(client), CFG, MONDAY_0900 + dt.timedelta(minutes=2), "w2")
    assert again.status == "posted"
    assert len(slack_stub.calls_to("files.getUploadURLExternal")) == 2  # two charts, uploaded once
    posts = slack_stub.calls_to("chat.postMessage")
    assert len(posts) == 4 and all(_images(c.args["blocks"]) == _images(posts[0].args["blocks"]) for c in posts)
    assert len(_images(posts[-1].args["blocks"])) == 2


def test_a_failed_upload_still_posts_the_digest_and_logs_it(scanned, slack_stub, caplog) -> None:
    slack_stub.fail_next("files.getUploadURLExternal", error="missing_scope", times=2)
    with caplog.at_level(logging.WARNING):
        out = post_weekly_digest(scanned, SlackDelivery(_client(slack_stub)), CFG, MONDAY_0900, "w")
    assert out.status == "posted" and _images(slack_stub.posted[0]["blocks"]) == []
    assert "chart upload revenue-health-2026-W43.png failed: missing_scope" in caplog.text
    assert "chart mrr_trend not uploaded; posting without it" in caplog.text
    assert _claim(scanned).charts == {}


def test_images_slack_refuses_are_dropped_and_the_digest_posted_at_once(scanned, slack_stub, caplog) -> None:
    class Forgetful(SlackDelivery):
        """Slack loses the files between the upload and the post (still processing, say)."""

        def upload_image(self, *args, **kwargs):
            file_id = super().upload_image(*args, **kwargs)
            slack_stub.files.clear()
            return file_id

    with caplog.at_level(logging.WARNING):
        out = post_weekly_digest(scanned, Forgetful(_client(slack_stub)), CFG, MONDAY_0900, "w", sleep=lambda s: None)
    assert out.status == "posted"
    assert [c.error for c in slack_stub.calls_to("chat.postMessage")] == ["invalid_blocks", None]
    assert _images(slack_stub.posted[0]["blocks"]) == []
    assert "Slack refused it with its charts (invalid_blocks); posting it without them" in caplog.text


def test_charts_off_means_no_upload(scanned, slack_stub) -> None:
    import dataclasses

    cfg = dataclasses.replace(CFG, slack=dataclasses.replace(CFG.slack, charts=False))
    assert post_weekly_digest(scanned, SlackDelivery(_client(slack_stub)), cfg, MONDAY_0900, "w").status == "posted"
    assert slack_stub.calls_to("files.getUploadURLExternal") == [] and _images(slack_stub.posted[0]["blocks"]) == []


def test_mrr_trend_is_month_end_mrr_for_twelve_months(scanned) -> None:
    with scanned() as s:
        d = build_digest(s, _app_id(scanned), MONDAY_0900, CFG)
    assert len(d.mrr_trend) == 12 and d.mrr_trend[0][0] == dt.date(2025, 11, 1)
    assert d.mrr_trend[-1] == (dt.date(2026, 10, 1), 75_000.0)  # this month: today's MRR
    assert d.mrr_trend[-2] == (dt.date(2026, 9, 1), 70_000.0)  # initech started in October


def test_reviews_due_in_the_digest_follow_notes_and_tags(scanned) -> None:
    tracker = Tracker(scanned, CFG, clock=lambda: MONDAY_0900)
    tracker.add_note("acme", "QBR booked", "U0ANA", MONDAY_0900 - dt.timedelta(days=1))
    with scanned() as s:
        d = build_digest(s, _app_id(scanned), MONDAY_0900, CFG)
    assert {r.org_id for r in d.reviews_due} == {"globex", "initech"} and d.reviews_due_total == 2
    message = digest_message(d, MONDAY_0900, CFG)
    validate_message(message["blocks"], message["text"])
    (section,) = [b["text"]["text"] for b in message["blocks"]
                  if b.get("text", {}).get("text", "").startswith("*Reviews due*")]
    assert section.startswith("*Reviews due* · 2 accounts with no note or case tag within their tier's interval\n")
    assert "• *Globex* · Tier" in section and "never reviewed · $20,000" in section
    assert d.tier_moves is None  # only in the first digest of a month


def test_the_first_digest_of_the_month_lists_tier_moves_and_why(session_factory) -> None:
    seed_orgs(session_factory, {"acme": 400, "globex": 300, "initech": 50_000},
              starts={"initech": dt.date(2026, 10, 20)}, seen=dt.datetime(2026, 10, 28, 12, tzinfo=UTC))
    run_scan(session_factory, CFG, dt.datetime(2026, 10, 29, 12, tzinfo=UTC))
    with session_factory() as s:
        d = build_digest(s, _app_id(session_factory), FIRST_MONDAY_0900, CFG)
    assert d.tier_moves is not None and d.tier_moves_since == dt.date(2026, 10, 2)
    initech = next(t for t in d.tier_moves if t.org_id == "initech")
    assert initech.before != initech.after and initech.why[0] == "revenue 0 → 100"
    message = digest_message(d, FIRST_MONDAY_0900, CFG)
    validate_message(message["blocks"], message["text"])
    (section,) = [b["text"]["text"] for b in message["blocks"]
                  if b.get("text", {}).get("text", "").startswith("*Tier moves since 2026-10-02*")]
    assert f"• *Initech Co*: {initech.before} → *{initech.after}*" in section and "revenue 0 → 100" in section


def test_cli_digest_text_and_chart_files(scanned, db_url, tmp_path: Path) -> None:
    from freezegun import freeze_time

    env = {"DATABASE_URL": db_url, "SAAS_TRACKER_CONFIG": None}
    with freeze_time(MONDAY_0900 + dt.timedelta(minutes=5)):
        result = CliRunner().invoke(cli, ["digest", "--dry-run", "--text", "--chart", str(tmp_path / "charts")],
                                    env=env)
    assert result.exit_code == 0, result.output
    assert "Reviews due (3 accounts with no note or case tag within their tier's interval)" in result.output
    assert "MRR by month:" in result.output
    written = sorted(p.name for p in (tmp_path / "charts").iterdir())
    assert written == ["mrr-trend-2026-W43.png", "revenue-health-2026-W43.png"]
    assert f"chart written to {tmp_path / 'charts' / 'mrr-trend-2026-W43.png'}" in result.output
