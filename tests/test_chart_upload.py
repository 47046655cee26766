"""bot.chart_upload through the real slack_sdk WebClient and the Slack stand-in: a chart's
bytes arrive intact, the image block points at the uploaded file and Slack (the stub)
accepts it, and every kind of failure becomes None plus one warning, never an exception."""

from __future__ import annotations

import io
import logging
import socket
from datetime import date, timedelta

import pytest
from PIL import Image
from slack_sdk import WebClient

from bot.chart_upload import MAX_IMAGE_TEXT, UploadedFile, image_block, upload_png
from bot.charts import org_trend_png
from bot.client import make_web_client
from slack_stub import SlackStub

LOGGER = "bot.chart_upload"


@pytest.fixture(scope="module")
def chart() -> bytes:
    weeks = [date(2026, 9, 7) + timedelta(weeks=i) for i in range(12)]
    return org_trend_png(weeks, [70.0 - 3 * i for i in range(12)], [900 - 60 * i for i in range(12)], title="Acme")


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelno == logging.WARNING]


def test_an_upload_round_trips_the_exact_bytes(slack_stub: SlackStub, slack_client: WebClient, chart: bytes) -> None:
    uploaded = upload_png(slack_client, chart, filename="acme-trend.png", title="Acme: 12 weeks", alt_text="Acme trend")
    assert uploaded is not None
    (stored,) = slack_stub.uploaded_files
    assert stored == (uploaded.file_id, "acme-trend.png", "Acme: 12 weeks", chart, None)
    assert Image.open(io.BytesIO(stored.data)).size == (800, 400)
    assert uploaded.permalink == slack_stub.files[uploaded.file_id]["permalink"]
    assert uploaded.title == "Acme: 12 weeks"


def test_the_image_block_references_the_uploaded_file_and_slack_accepts_it(
    slack_stub: SlackStub, slack_client: WebClient, chart: bytes
) -> None:
    uploaded = upload_png(slack_client, chart, filename="acme-trend.png", title="Acme")
    assert uploaded is not None
    block = image_block(uploaded, "Acme health and weekly usage, last 12 weeks")
    assert block == {
        "type": "image",
        "slack_file": {"id": uploaded.file_id},
        "alt_text": "Acme health and weekly usage, last 12 weeks",
    }
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*Acme* health 37"}}, block]
    posted = slack_client.chat_postMessage(channel="C0CUSTSUCC", text="Acme health 37", blocks=blocks)
    assert slack_stub.message("C0CUSTSUCC", posted["ts"])["blocks"][1]["slack_file"] == {"id": uploaded.file_id}


def test_a_block_for_a_file_slack_never_got_is_refused(slack_stub: SlackStub, slack_client: WebClient) -> None:
    """The stub checks slack_file ids, so the test above proves more than the dict's shape."""
    block = image_block(UploadedFile("F0NEVER000"), "chart")
    with pytest.raises(Exception, match="invalid_blocks"):
        slack_client.chat_postMessage(channel="C0CUSTSUCC", text="x", blocks=[block])


def test_an_upload_into_a_channel_is_shared_there(slack_stub: SlackStub, slack_client: WebClient, chart: bytes) -> None:
    uploaded = upload_png(slack_client, chart, filename="mrr", title="MRR", channel_id="C0CUSTSUCC")
    assert uploaded is not None
    assert slack_stub.uploaded_files[0].filename == "mrr.png"  # Slack renders by the name
    assert slack_stub.uploaded_files[0].channel == "C0CUSTSUCC"
    assert slack_stub.channel_messages("C0CUSTSUCC")[0]["files"][0]["id"] == uploaded.file_id


def test_a_rate_limited_upload_is_retried_by_the_client(slack_stub: SlackStub, slack_client: WebClient,
                                                        chart: bytes) -> None:
    slack_stub.fail_next("files.getUploadURLExternal", status=429, retry_after=0)
    assert upload_png(slack_client, chart, filename="a.png", title="a") is not None
    assert len(slack_stub.uploaded_files) == 1


@pytest.mark.parametrize(
    "script, expected",
    [
        (lambda stub: stub.fail_next("files.getUploadURLExternal", error="missing_scope"),
         "missing_scope (permanent_auth)"),
        (lambda stub: stub.fail_next("upload_url", status=500), "http_500 (retryable)"),
        (lambda stub: stub.fail_next("files.completeUploadExternal", error="file_not_found"), "file_not_found"),
        (lambda stub: stub.fail_next("files.completeUploadExternal", status=503, times=3),
         "internal_error (retryable)"),
    ],
    ids=["missing_scope", "upload_url_500", "complete_error", "complete_5xx_after_retries"],
)
def test_a_failed_upload_returns_none_and_logs_one_warning(
    slack_stub: SlackStub, slack_client: WebClient, chart: bytes, caplog: pytest.LogCaptureFixture,
    script, expected: str,  # noqa: ANN001
) -> None:
    script(slack_stub)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert upload_png(slack_client, chart, filename="trend.png", title="t") is None
    (line,) = _warnings(caplog)
    assert line.startswith("chart upload trend.png failed: ") and expected in line
    assert slack_stub.uploaded_files == []


def test_a_channel_the_bot_cannot_post_in_is_a_warning_not_an_exception(
    slack_stub: SlackStub, slack_client: WebClient, chart: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert upload_png(slack_client, chart, filename="t.png", title="t", channel_id="C0NOBOT") is None
    assert _warnings(caplog) == ["chart upload t.png failed: not_in_channel (permanent_channel)"]


def test_an_unreachable_slack_is_a_warning_not_an_exception(chart: bytes, caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed when the block ends: nothing listens there
    client = make_web_client("xoxb-x", f"http://127.0.0.1:{port}/api/", connection_retries=0)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert upload_png(client, chart, filename="t.png", title="t") is None
    (line,) = _warnings(caplog)
    assert "(retryable)" in line


def test_bad_tokens_and_empty_images_are_warnings_too(slack_stub: SlackStub, caplog: pytest.LogCaptureFixture) -> None:
    client = make_web_client("xoxb-wrong", slack_stub.base_url)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert upload_png(client, b"\x89PNG", filename="t.png", title="t") is None
        assert upload_png(client, b"", filename="empty.png", title="t") is None
    assert _warnings(caplog) == [
        "chart upload t.png failed: invalid_auth (permanent_auth)",
        "chart upload empty.png skipped: empty image",
    ]
    assert len(slack_stub.calls) == 1  # the empty image never reached Slack


def test_an_ok_answer_without_a_file_is_treated_as_a_failure(caplog: pytest.LogCaptureFixture) -> None:
    class OddClient:
        def files_upload_v2(self, **kwargs: object) -> dict:
            return {"ok": True, "files": []}

    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert upload_png(OddClient(), b"\x89PNG", filename="t.png", title="t") is None
    assert _warnings(caplog) == ["chart upload t.png failed: no_file_id (Slack answered ok without a file)"]


def test_image_block_title_block_id_and_slacks_text_limits(slack_stub: SlackStub, slack_client: WebClient) -> None:
    uploaded = upload_png(slack_client, b"\x89PNG\r\n\x1a\n", filename="a.png", title="a")
    assert uploaded is not None
    block = image_block(uploaded, "  x" * 1000, title="y" * 5000, block_id="chart|acme")
    assert len(block["alt_text"]) == MAX_IMAGE_TEXT and block["alt_text"].endswith("…")
    assert block["title"] == {"type": "plain_text", "text": "y" * (MAX_IMAGE_TEXT - 1) + "…"}
    assert block["block_id"] == "chart|acme"
    assert slack_client.chat_postMessage(channel="C0CUSTSUCC", text="t", blocks=[block])["ok"]  # within Slack's limits
    with pytest.raises(ValueError, match="alt_text"):
        image_block(uploaded, "   ")
