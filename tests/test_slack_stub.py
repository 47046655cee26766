"""The Slack stand-in, driven by the real slack_sdk WebClient (built by bot.client) and the
real slack-bolt request handling: retries, error categories, recorded calls, state kept
for assertions, response_urls and signed requests."""

from __future__ import annotations

import datetime as dt
import json
import socket
import threading
import time
from urllib.error import URLError

import pytest
from slack_bolt import App, BoltRequest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.webhook import WebhookClient

from bot import messages as m
from bot.payloads import parse_action
from bot.client import make_web_client, resolve_api_url
from bot.slack_errors import ErrorCategory, classify, classify_code, error_code, is_retryable, user_message
from domain.config import Config, SlackConfig
from services.read_models import OrgDetail, OrgItem, SignalView, SummaryCards
from slack_stub import (
    FORM,
    SlackStub,
    app_home_opened_body,
    block_actions_payload,
    interaction_body,
    signed_request_headers,
    slash_command_body,
)

NOW = dt.datetime(2026, 11, 23, 9, 0)


def _api_error(fn, *args, **kwargs) -> SlackApiError:
    with pytest.raises(SlackApiError) as info:
        fn(*args, **kwargs)
    return info.value


# --- retries and error categories through the real WebClient -------------------------------


def test_a_rate_limited_post_is_retried_after_retry_after_and_sent_once(slack_stub: SlackStub,
                                                                        slack_client: WebClient) -> None:
    slack_stub.fail_next("chat.postMessage", error="ratelimited", status=429, retry_after=1)
    started = time.monotonic()
    response = slack_client.chat_postMessage(channel="C0CUSTSUCC", text="hello")
    elapsed = time.monotonic() - started
    assert response["ok"] and response["channel"] == "C0CUSTSUCC"
    calls = slack_stub.calls_to("chat.postMessage")
    assert [(c.status, c.error) for c in calls] == [(429, "ratelimited"), (200, None)]
    assert elapsed >= 1.0  # Retry-After was honoured
    assert [p["text"] for p in slack_stub.posted] == ["hello"]
    assert slack_stub.channel_messages("C0CUSTSUCC")[0]["ts"] == response["ts"]


def test_rate_limits_beyond_the_retries_surface_as_rate_limited(slack_stub: SlackStub) -> None:
    client = make_web_client(slack_stub.token, slack_stub.base_url, rate_limit_retries=1)
    slack_stub.fail_next("chat.postMessage", status=429, retry_after=0, times=2)
    err = _api_error(client.chat_postMessage, channel="C0CUSTSUCC", text="x")
    assert classify(err) is ErrorCategory.RATE_LIMITED and is_retryable(classify(err))
    assert len(slack_stub.calls_to("chat.postMessage")) == 2
    assert slack_stub.posted == []


def test_channel_not_found_is_permanent_and_not_retried(slack_stub: SlackStub, slack_client: WebClient) -> None:
    slack_stub.fail_next("chat.postMessage", error="channel_not_found")
    err = _api_error(slack_client.chat_postMessage, channel="C0CUSTSUCC", text="x")
    assert error_code(err) == "channel_not_found"
    assert classify(err) is ErrorCategory.PERMANENT_CHANNEL and not is_retryable(classify(err))
    assert len(slack_stub.calls_to("chat.postMessage")) == 1


def test_unknown_archived_and_unjoined_channels_fail_like_slack(slack_stub: SlackStub, slack_client: WebClient) -> None:
    for channel, code in (("C0NOPE", "channel_not_found"), ("#old-cs", "is_archived"), ("C0NOBOT", "not_in_channel")):
        err = _api_error(slack_client.chat_postMessage, channel=channel, text="x")
        assert (error_code(err), classify(err)) == (code, ErrorCategory.PERMANENT_CHANNEL)
    assert slack_client.chat_postMessage(channel="#customer-success", text="by name")["channel"] == "C0CUSTSUCC"


def test_server_errors_are_retried_then_reported_as_retryable(slack_stub: SlackStub, slack_client: WebClient) -> None:
    slack_stub.fail_next("chat.postMessage", status=500)
    assert slack_client.chat_postMessage(channel="C0CUSTSUCC", text="after a 500")["ok"]
    assert [c.status for c in slack_stub.calls_to("chat.postMessage")] == [500, 200]

    slack_stub.reset()
    slack_stub.fail_next("chat.postMessage", status=503, body="<html>Service Unavailable</html>", times=3)
    err = _api_error(slack_client.chat_postMessage, channel="C0CUSTSUCC", text="x")
    assert classify(err) is ErrorCategory.RETRYABLE
    assert len(slack_stub.calls_to("chat.postMessage")) == 3  # first try + 2 retries
    assert slack_stub.posted == []


def test_bad_tokens_are_permanent_auth_errors(slack_stub: SlackStub) -> None:
    client = make_web_client("xoxb-wrong", slack_stub.base_url)
    err = _api_error(client.auth_test)
    assert (error_code(err), classify(err)) == ("invalid_auth", ErrorCategory.PERMANENT_AUTH)
    assert slack_stub.calls_to("auth.test")[0].token == "xoxb-wrong"


def test_connection_errors_are_retryable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed when the block ends: nothing listens there
    client = make_web_client("xoxb-x", f"http://127.0.0.1:{port}/api/", connection_retries=1, backoff_factor=0.01)
    with pytest.raises(URLError) as info:
        client.auth_test()
    assert classify(info.value) is ErrorCategory.RETRYABLE


def test_the_stub_rejects_over_limit_messages_like_slack(slack_stub: SlackStub, slack_client: WebClient) -> None:
    too_many = [{"type": "section", "text": {"type": "mrkdwn", "text": "x"}}] * 51
    err = _api_error(slack_client.chat_postMessage, channel="C0CUSTSUCC", text="t", blocks=too_many)
    assert (error_code(err), classify(err)) == ("invalid_blocks", ErrorCategory.BAD_REQUEST)
    too_long = [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 2900}}] * 5
    err = _api_error(slack_client.chat_postMessage, channel="C0CUSTSUCC", text="t", blocks=too_long)
    assert (error_code(err), classify(err)) == ("msg_blocks_too_long", ErrorCategory.BAD_REQUEST)
    with pytest.warns(UserWarning, match="text"):
        err = _api_error(slack_client.chat_postMessage, channel="C0CUSTSUCC")
    assert error_code(err) == "no_text"
    assert slack_stub.posted == []


@pytest.mark.parametrize(
    "code, status, category",
    [
        ("ratelimited", 429, ErrorCategory.RATE_LIMITED),
        (None, 429, ErrorCategory.RATE_LIMITED),
        ("internal_error", 200, ErrorCategory.RETRYABLE),
        ("fatal_error", 200, ErrorCategory.RETRYABLE),
        ("service_unavailable", 200, ErrorCategory.RETRYABLE),
        ("request_timeout", 200, ErrorCategory.RETRYABLE),
        (None, 502, ErrorCategory.RETRYABLE),
        ("is_archived", 200, ErrorCategory.PERMANENT_CHANNEL),
        ("not_in_channel", 200, ErrorCategory.PERMANENT_CHANNEL),
        ("account_inactive", 200, ErrorCategory.PERMANENT_AUTH),
        ("token_revoked", 200, ErrorCategory.PERMANENT_AUTH),
        ("missing_scope", 200, ErrorCategory.PERMANENT_AUTH),
        ("not_authed", 200, ErrorCategory.PERMANENT_AUTH),
        ("invalid_blocks", 200, ErrorCategory.BAD_REQUEST),
        ("msg_too_long", 200, ErrorCategory.BAD_REQUEST),
        ("invalid_arguments", 200, ErrorCategory.BAD_REQUEST),
        ("invalid_something_new", 200, ErrorCategory.BAD_REQUEST),
        ("expired_trigger_id", 200, ErrorCategory.EXPIRED),
        ("used_url", 404, ErrorCategory.EXPIRED),
        ("expired_url", 404, ErrorCategory.EXPIRED),
        ("users_not_found", 200, ErrorCategory.NOT_FOUND),
        ("something_odd", 200, ErrorCategory.UNKNOWN),
    ],
)
def test_classify_code(code: str | None, status: int, category: ErrorCategory) -> None:
    assert classify_code(code, status) is category


def test_classify_non_api_errors_and_every_category_has_a_sentence() -> None:
    assert classify(TimeoutError()) is ErrorCategory.RETRYABLE
    assert classify(ConnectionResetError()) is ErrorCategory.RETRYABLE
    assert classify(SlackRequestError("bad")) is ErrorCategory.BAD_REQUEST
    assert classify(ValueError("?")) is ErrorCategory.UNKNOWN
    sentences = [user_message(c) for c in ErrorCategory]
    assert all(s.endswith(".") for s in sentences) and len(set(sentences)) == len(ErrorCategory)
    assert "archived" in user_message(ErrorCategory.PERMANENT_CHANNEL)


# --- client configuration -------------------------------------------------------------------


def test_api_url_comes_from_the_environment_then_the_config_then_slack() -> None:
    cfg = Config(slack=SlackConfig(api_url="http://emulator:3000/api"))
    assert resolve_api_url(cfg, env={"SLACK_API_URL": "http://stub/api/"}) == "http://stub/api/"
    assert resolve_api_url(cfg, env={}) == "http://emulator:3000/api/"
    assert resolve_api_url(None, env={}) == "https://slack.com/api/"


def test_make_web_client_attaches_all_retry_handlers(slack_stub: SlackStub) -> None:
    client = make_web_client("xoxb-x", slack_stub.base_url)
    names = [type(h).__name__ for h in client.retry_handlers]
    assert names == ["ConnectionErrorRetryHandler", "RateLimitErrorRetryHandler", "ServerErrorRetryHandler"]
    assert client.base_url == slack_stub.base_url


# --- the Web API methods the app uses ------------------------------------------------------------


def test_messages_are_recorded_with_parsed_blocks_and_updated_in_place(slack_stub: SlackStub,
                                                                       slack_client: WebClient) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "v1"}, "block_id": "item|o1"}]
    posted = slack_client.chat_postMessage(channel="C0CUSTSUCC", text="v1", blocks=blocks)
    call = slack_stub.calls_to("chat.postMessage")[0]
    assert call.args["blocks"] == blocks and call.token == slack_stub.token and call.time > 0
    new_blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "v2"}, "block_id": "item|o1"}]
    slack_client.chat_update(channel="C0CUSTSUCC", ts=posted["ts"], text="v2", blocks=new_blocks)
    assert slack_stub.message("C0CUSTSUCC", posted["ts"])["blocks"] == new_blocks
    err = _api_error(slack_client.chat_update, channel="C0CUSTSUCC", ts="1.2", text="x")
    assert (error_code(err), classify(err)) == ("message_not_found", ErrorCategory.NOT_FOUND)


def test_form_encoded_calls_with_json_strings_are_parsed(slack_stub: SlackStub, slack_client: WebClient) -> None:
    blocks = [{"type": "divider"}]
    slack_client.api_call("chat.postMessage",
                          data={"channel": "C0ALERTS", "text": "form", "blocks": json.dumps(blocks)})
    slack_client.api_call("chat.postMessage", params={"channel": "C0ALERTS", "text": "urlencoded"})
    assert [(p["text"], p["blocks"]) for p in slack_stub.posted] == [("form", blocks), ("urlencoded", [])]


def test_ephemeral_posts(slack_stub: SlackStub, slack_client: WebClient) -> None:
    msg = m.error_message("Nope")
    slack_client.chat_postEphemeral(channel="C0CUSTSUCC", user="U0BEN", text=msg["text"], blocks=msg["blocks"])
    assert slack_stub.ephemeral[0]["user"] == "U0BEN" and slack_stub.ephemeral[0]["blocks"] == msg["blocks"]
    err = _api_error(slack_client.chat_postEphemeral, channel="C0CUSTSUCC", user="U0NOBODY", text="x")
    assert error_code(err) == "user_not_in_channel"


def _detail() -> OrgDetail:
    sig = SignalView(1, "usage_drop", "Usage drop", 85.0, "Events −50%", {"previous_events": 100}, "active", NOW)
    item = OrgItem("o1", "Acme", None, 100.0, 50.0, "yellow", 0.0, NOW, 85.0, (sig,), "Events −50%")
    return OrgDetail(item, None, None, None, None, (), (), (), (), ())


def test_views_open_update_and_publish(slack_stub: SlackStub, slack_client: WebClient) -> None:
    view = m.org_detail_modal(_detail(), NOW, Config())
    opened = slack_client.views_open(trigger_id="trig-1", view=view)
    assert slack_stub.opened_views[0]["blocks"] == view["blocks"]
    slack_client.views_update(view_id=opened["view"]["id"], view={**view, "blocks": view["blocks"][:1]})
    assert len(slack_stub.views[opened["view"]["id"]]["blocks"]) == 1
    slack_stub.expire_trigger("trig-old")
    err = _api_error(slack_client.views_open, trigger_id="trig-old", view=view)
    assert (error_code(err), classify(err)) == ("expired_trigger_id", ErrorCategory.EXPIRED)
    err = _api_error(slack_client.views_open, trigger_id="trig-2",
                     view={**view, "title": {"type": "plain_text", "text": "x" * 25}})
    assert error_code(err) == "invalid_arguments"
    home = {"type": "home", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Home"}}]}
    slack_client.views_publish(user_id="U0ANA", view=home)
    assert slack_stub.home_views["U0ANA"]["blocks"] == home["blocks"]


def test_users_lookup_info_and_usergroups(slack_stub: SlackStub, slack_client: WebClient) -> None:
    assert slack_client.users_lookupByEmail(email="Ben@Example.com")["user"]["id"] == "U0BEN"
    err = _api_error(slack_client.users_lookupByEmail, email="nobody@example.com")
    assert (error_code(err), classify(err)) == ("users_not_found", ErrorCategory.NOT_FOUND)
    slack_stub.add_user("U0DEE", "dee", "dee@example.com")
    assert slack_client.users_lookupByEmail(email="dee@example.com")["user"]["id"] == "U0DEE"
    assert slack_client.users_info(user="U0ANA")["user"]["profile"]["email"] == "ana@example.com"
    assert error_code(_api_error(slack_client.users_info, user="U0NOPE")) == "user_not_found"
    assert slack_client.usergroups_users_list(usergroup="S0CSLEADS")["users"] == ["U0ANA"]
    assert error_code(_api_error(slack_client.usergroups_users_list, usergroup="S0NOPE")) == "no_such_subteam"


def test_conversations_list_pages_with_cursors(slack_stub: SlackStub, slack_client: WebClient) -> None:
    slack_stub.conversations_page_size = 2
    for i in range(3):
        slack_stub.add_channel(f"C1{i}", f"extra-{i}")
    names, cursor, pages = [], None, 0
    while True:
        page = slack_client.conversations_list(limit=200, cursor=cursor, exclude_archived=True)
        names += [c["name"] for c in page["channels"]]
        pages += 1
        cursor = page["response_metadata"]["next_cursor"]
        if not cursor:
            break
    assert names == ["customer-success", "cs-alerts", "no-bot-here", "extra-0", "extra-1", "extra-2"]
    assert pages == 3


def test_unknown_methods_and_missing_tokens(slack_stub: SlackStub) -> None:
    fresh = make_web_client(slack_stub.token, slack_stub.base_url)
    assert error_code(_api_error(fresh.api_call, "pins.add")) == "unknown_method"
    assert error_code(_api_error(WebClient(base_url=slack_stub.base_url).auth_test)) == "not_authed"


def test_wait_for_sees_calls_from_other_threads(slack_stub: SlackStub, slack_client: WebClient) -> None:
    threading.Timer(0.1, lambda: slack_client.chat_postMessage(channel="C0ALERTS", text="later")).start()
    calls = slack_stub.wait_for("chat.postMessage", timeout=5)
    assert calls[0].args["text"] == "later"
    with pytest.raises(AssertionError, match="expected 2 chat.postMessage"):
        slack_stub.wait_for("chat.postMessage", 2, timeout=0.2)


# --- response_url -----------------------------------------------------------------------------


def test_response_url_replaces_the_original_and_allows_five_uses(slack_stub: SlackStub,
                                                                 slack_client: WebClient) -> None:
    posted = slack_client.chat_postMessage(channel="C0CUSTSUCC", text="list", blocks=[{"type": "divider"}])
    url = slack_stub.new_response_url("C0CUSTSUCC", posted["ts"])
    hook = WebhookClient(url)
    replaced = hook.send(text="tagged", blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "tagged"}}],
                         replace_original=True)
    assert replaced.status_code == 200
    assert slack_stub.message("C0CUSTSUCC", posted["ts"])["text"] == "tagged"
    err = m.error_message("Only CS leads may dismiss.")
    assert hook.send_dict(err).status_code == 200
    assert slack_stub.message("C0CUSTSUCC", posted["ts"])["text"] == "tagged"  # errors never replace
    assert slack_stub.ephemeral[-1]["text"] == err["text"]
    for _ in range(3):
        assert hook.send(text="again").status_code == 200
    sixth = hook.send(text="sixth")
    assert sixth.status_code == 404 and classify_code(json.loads(sixth.body)["error"], 404) is ErrorCategory.EXPIRED
    assert len(slack_stub.response_replies(url)) == 5
    assert [c.method for c in slack_stub.calls if c.method == "response_url"] == ["response_url"] * 6


def test_response_url_can_expire_fail_and_delete(slack_stub: SlackStub, slack_client: WebClient) -> None:
    posted = slack_client.chat_postMessage(channel="C0CUSTSUCC", text="x")
    url = slack_stub.new_response_url("C0CUSTSUCC", posted["ts"])
    slack_stub.fail_next("response_url", status=500)
    assert WebhookClient(url).send(text="y").status_code == 500
    assert WebhookClient(url).send_dict({"delete_original": True}).status_code == 200
    assert slack_stub.message("C0CUSTSUCC", posted["ts"]) is None
    slack_stub.expire_response_url(url)
    assert json.loads(WebhookClient(url).send(text="z").body)["error"] == "expired_url"


# --- signed requests into a real Bolt app ------------------------------------------------------


def test_signed_request_headers_match_slacks_verifier() -> None:
    body = slash_command_body("/signals", "top 5")
    headers = signed_request_headers(body, "secret", timestamp=1_700_000_000)
    assert headers["X-Slack-Request-Timestamp"] == "1700000000"
    assert headers["X-Slack-Signature"].startswith("v0=") and len(headers["X-Slack-Signature"]) == 67
    verifier = SignatureVerifier("secret", clock=type("C", (), {"now": lambda self: 1_700_000_100})())
    assert verifier.is_valid_request(body, headers)
    assert not verifier.is_valid_request(body + "x", headers)
    assert not SignatureVerifier("other-secret").is_valid_request(body, signed_request_headers(body, "secret"))


def _bolt_app(stub: SlackStub, secret: str) -> App:
    return App(signing_secret=secret, client=make_web_client(stub.token, stub.base_url), process_before_response=True)


def test_bolt_handles_a_signed_command_and_answers_through_the_stub(slack_stub: SlackStub,
                                                                    slack_signing_secret: str) -> None:
    app = _bolt_app(slack_stub, slack_signing_secret)
    assert slack_stub.calls_to("auth.test", ok=True)  # Bolt checks its token at start

    @app.command("/signals")
    def signals(ack, respond, command):  # noqa: ANN001
        ack()
        respond(m.help_message(command["text"]))

    url = slack_stub.new_response_url("C0CUSTSUCC")
    body = slash_command_body("/signals", "wat", response_url=url)
    response = app.dispatch(BoltRequest(body=body,
                                        headers=signed_request_headers(body, slack_signing_secret, content_type=FORM)))
    assert response.status == 200
    reply = slack_stub.response_replies(url)[0]
    assert reply["blocks"][0]["text"]["text"].startswith(":thinking_face: I didn't understand `wat`.")

    forged = app.dispatch(BoltRequest(body=body,
                                      headers=signed_request_headers(body, "not-the-secret", content_type=FORM)))
    assert forged.status == 401
    stale = signed_request_headers(body, slack_signing_secret, timestamp=int(time.time()) - 600, content_type=FORM)
    assert app.dispatch(BoltRequest(body=body, headers=stale)).status == 401
    assert len(slack_stub.response_replies(url)) == 1


def test_a_click_built_from_a_real_message_reaches_a_bolt_action_handler(slack_stub: SlackStub,
                                                                         slack_signing_secret: str) -> None:
    app = _bolt_app(slack_stub, slack_signing_secret)
    detail = _detail()
    message = m.signals_list_message(SummaryCards(1, 100.0, 1, 0, NOW), [detail.item], NOW, Config())
    posted = app.client.chat_postMessage(channel="C0CUSTSUCC", **message)
    seen: list[dict] = []

    @app.action("signal_dismiss")
    def dismiss(ack, action, body, respond):  # noqa: ANN001
        ack()
        seen.append(action)
        parsed = parse_action(action)
        blocks = m.item_dismissed_update(body["message"]["blocks"], parsed.org_id, "snooze7", dt.date(2026, 11, 30),
                                         body["user"]["id"])
        respond(text="snoozed", blocks=blocks, replace_original=True)

    url = slack_stub.new_response_url("C0CUSTSUCC", posted["ts"])
    payload = block_actions_payload(
        message["blocks"], "signal_dismiss", option_value="snooze7|1", user_id="U0BEN", message_ts=posted["ts"],
        response_url=url,
    )
    body = interaction_body(payload)
    response = app.dispatch(BoltRequest(body=body,
                                        headers=signed_request_headers(body, slack_signing_secret, content_type=FORM)))
    assert response.status == 200
    assert seen[0]["block_id"] == "item_actions|o1" and seen[0]["selected_option"]["value"] == "snooze7|1"
    now_blocks = slack_stub.message("C0CUSTSUCC", posted["ts"])["blocks"]
    item = next(b for b in now_blocks if b.get("block_id") == "item|o1")
    assert item["text"]["text"] == "~Acme~ snoozed until 2026-11-30 by <@U0BEN>"
    assert not any(b["type"] == "actions" for b in now_blocks)
    with pytest.raises(LookupError):
        block_actions_payload(message["blocks"], "signal_dismiss", option_value="dismiss|999")


def test_clicks_on_ephemeral_messages_and_views_carry_no_message() -> None:
    blocks = m.org_choices_message("acme", [("o1", "Acme", None), ("o2", "Acme EU", None)])["blocks"]
    click = block_actions_payload(blocks, "org_pick", block_id=None, ephemeral=True)
    assert "message" not in click and click["container"]["is_ephemeral"] is True
    assert click["actions"][0]["value"] == "o1" and parse_action(click["actions"][0]).org_id == "o1"
    view = {**m.org_detail_modal(_detail(), NOW, Config()), "id": "V123"}
    in_view = block_actions_payload(view["blocks"], "org_open", view=view)
    assert in_view["container"] == {"type": "view", "view_id": "V123"} and "response_url" not in in_view


def test_app_home_opened_event_body_is_signed_json(slack_stub: SlackStub, slack_signing_secret: str) -> None:
    app = _bolt_app(slack_stub, slack_signing_secret)

    @app.event("app_home_opened")
    def home(event, client):  # noqa: ANN001
        client.views_publish(user_id=event["user"], view={"type": "home", "blocks": [{"type": "divider"}]})

    body = app_home_opened_body("U0CAL")
    headers = signed_request_headers(body, slack_signing_secret, content_type="application/json")
    assert app.dispatch(BoltRequest(body=body, headers=headers)).status == 200
    assert slack_stub.home_views["U0CAL"]["blocks"] == [{"type": "divider"}]


# --- files: the external upload flow files_upload_v2 uses ------------------------------------

PNG_BYTES = (b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + (800).to_bytes(4, "big") + (400).to_bytes(4, "big")
             + bytes(range(256)))


def _get(url: str, token: str | None) -> tuple[int, bytes, str]:
    from urllib.error import HTTPError
    from urllib.request import Request, urlopen

    request = Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urlopen(request, timeout=5) as response:
            return response.status, response.read(), response.headers.get("Content-Type", "")
    except HTTPError as error:
        return error.code, error.read(), error.headers.get("Content-Type", "")


def test_files_upload_v2_round_trips_the_exact_bytes_through_the_stubs_own_upload_url(
    slack_stub: SlackStub, slack_client: WebClient
) -> None:
    response = slack_client.files_upload_v2(file=PNG_BYTES, filename="trend.png", title="Acme: 12 weeks",
                                            alt_txt="Health trend")
    assert [c.method for c in slack_stub.calls] == ["files.getUploadURLExternal", "upload_url",
                                                    "files.completeUploadExternal"]
    handed_out = slack_stub.calls_to("files.getUploadURLExternal")[0]
    assert handed_out.args["filename"] == "trend.png" and handed_out.args["length"] == str(len(PNG_BYTES))
    assert handed_out.response["upload_url"].startswith(slack_stub.url + "/upload/")  # served by the stub itself
    upload = slack_stub.calls_to("upload_url")[0]
    assert upload.token is None and upload.args == {"size": len(PNG_BYTES), "file_id": handed_out.response["file_id"]}

    file = response["file"]
    assert file["id"] == handed_out.response["file_id"] and file["id"].startswith("F")
    assert (file["name"], file["title"], file["mimetype"], file["size"]) == ("trend.png", "Acme: 12 weeks", "image/png",
                                                                             len(PNG_BYTES))
    assert (file["original_w"], file["original_h"], file["alt_txt"]) == (800, 400, "Health trend")
    assert file["channels"] == [] and file["is_public"] is False  # no channel: private to the bot
    assert file["permalink"] and file["url_private"]
    assert slack_stub.uploaded_files == [(file["id"], "trend.png", "Acme: 12 weeks", PNG_BYTES, None)]
    assert slack_client.files_info(file=file["id"])["file"]["id"] == file["id"]
    assert error_code(_api_error(slack_client.files_info, file="F0NOPE0000")) == "file_not_found"


def test_url_private_serves_the_bytes_to_the_bots_token_only(slack_stub: SlackStub, slack_client: WebClient) -> None:
    file = slack_client.files_upload_v2(file=PNG_BYTES, filename="grid.png")["file"]
    assert file["title"] == "grid.png"  # no title: the file name, like Slack
    assert _get(file["url_private"], slack_stub.token) == (200, PNG_BYTES, "image/png")
    assert _get(file["url_private_download"], slack_stub.token)[:2] == (200, PNG_BYTES)
    assert _get(file["url_private"], None)[0] == 401
    assert _get(file["url_private"], "xoxb-wrong")[0] == 401
    assert _get(file["url_private"].replace(file["id"], "F0NOPE0000"), slack_stub.token)[0] == 404


def test_an_upload_shared_in_a_channel_posts_a_file_share_message(slack_stub: SlackStub,
                                                                  slack_client: WebClient) -> None:
    file = slack_client.files_upload_v2(
        content=PNG_BYTES, filename="mrr.png", channel="C0CUSTSUCC", initial_comment="MRR this year"
    )["file"]
    assert file["channels"] == ["C0CUSTSUCC"] and file["is_public"] is True
    (shared,) = slack_stub.channel_messages("C0CUSTSUCC")
    assert (shared["subtype"], shared["text"], shared["files"][0]["id"]) == ("file_share", "MRR this year", file["id"])
    assert slack_stub.posted == []  # not a chat.postMessage
    assert slack_stub.uploaded_files[0].channel == "C0CUSTSUCC"
    for channel, code in (("C0NOBOT", "not_in_channel"), ("C0OLD", "is_archived"), ("C0NOPE", "channel_not_found")):
        err = _api_error(slack_client.files_upload_v2, content=b"x", filename="x.png", channel=channel)
        assert error_code(err) == code
    assert len(slack_stub.uploaded_files) == 1


def test_upload_failures_can_be_scripted_at_each_step(slack_stub: SlackStub, slack_client: WebClient) -> None:
    slack_stub.fail_next("files.getUploadURLExternal", error="missing_scope")
    err = _api_error(slack_client.files_upload_v2, file=PNG_BYTES, filename="a.png")
    assert (error_code(err), classify(err)) == ("missing_scope", ErrorCategory.PERMANENT_AUTH)
    assert slack_stub.calls_to("upload_url") == []

    slack_stub.fail_next("upload_url", status=500)
    with pytest.raises(URLError) as info:  # the SDK does not retry the upload URL: urllib's HTTPError
        slack_client.files_upload_v2(file=PNG_BYTES, filename="b.png")
    assert getattr(info.value, "code", None) == 500 and classify(info.value) is ErrorCategory.RETRYABLE
    assert [c.status for c in slack_stub.calls_to("upload_url")] == [500]
    assert slack_stub.calls_to("files.completeUploadExternal") == []

    slack_stub.fail_next("files.completeUploadExternal", error="internal_error", status=500, times=3)
    err = _api_error(slack_client.files_upload_v2, file=PNG_BYTES, filename="c.png")
    assert classify(err) is ErrorCategory.RETRYABLE
    assert slack_stub.uploaded_files == []


def test_completing_an_unknown_or_unsent_upload_fails_like_slack(slack_stub: SlackStub,
                                                                 slack_client: WebClient) -> None:
    err = _api_error(slack_client.files_completeUploadExternal, files=[{"id": "F0NOPE0000", "title": "x"}])
    assert error_code(err) == "file_not_found"
    handed_out = slack_client.files_getUploadURLExternal(filename="a.png", length=3)
    err = _api_error(slack_client.files_completeUploadExternal, files=[{"id": handed_out["file_id"]}])
    assert error_code(err) == "file_not_found"  # nothing was POSTed to the upload URL yet
    err = _api_error(slack_client.api_call, "files.completeUploadExternal", params={"files": "not json"})
    assert error_code(err) == "invalid_arguments"
    err = _api_error(slack_client.api_call, "files.getUploadURLExternal", params={"filename": "a.png"})
    assert error_code(err) == "invalid_arguments"  # no length


def test_the_upload_url_insists_on_the_declared_length(slack_stub: SlackStub, slack_client: WebClient) -> None:
    from urllib.error import HTTPError
    from urllib.request import Request, urlopen

    handed_out = slack_client.files_getUploadURLExternal(filename="a.png", length=5)
    with pytest.raises(HTTPError) as info:
        urlopen(Request(handed_out["upload_url"], data=b"1234", method="POST"), timeout=5)
    assert info.value.code == 400
    with urlopen(Request(handed_out["upload_url"], data=b"12345", method="POST"), timeout=5) as response:
        assert (response.status, response.read()) == (200, b"OK - 5")
    with pytest.raises(HTTPError) as info:
        urlopen(Request(slack_stub.url + "/upload/v1/nope", data=b"1", method="POST"), timeout=5)
    assert info.value.code == 404
    completed = slack_client.files_completeUploadExternal(files=[{"id": handed_out["file_id"], "title": "five"}])
    assert completed["files"][0]["title"] == "five" and slack_stub.uploaded_files[0].data == b"12345"


def test_image_blocks_must_reference_a_file_the_workspace_has(slack_stub: SlackStub, slack_client: WebClient) -> None:
    file = slack_client.files_upload_v2(file=PNG_BYTES, filename="trend.png")["file"]

    def image(**fields: object) -> list[dict]:
        return [{"type": "image", "alt_text": "Health trend", **fields}]

    for ok_blocks in (
        image(slack_file={"id": file["id"]}),
        image(slack_file={"url": file["permalink"]}, title={"type": "plain_text", "text": "Acme"}),
        image(image_url="https://example.com/chart.png"),
    ):
        assert slack_client.chat_postMessage(channel="C0CUSTSUCC", text="chart", blocks=ok_blocks)["ok"]
    for bad_blocks in (
        image(slack_file={"id": "F0NOPE0000"}),  # no such file
        image(slack_file={"id": "not-a-file-id"}),
        image(slack_file={"url": "https://example.com/elsewhere.png"}),
        image(slack_file={"id": file["id"], "url": file["permalink"]}),  # both
        image(slack_file={"id": file["id"]}, image_url="https://example.com/chart.png"),  # two sources
        image(),  # no source
        [{"type": "image", "slack_file": {"id": file["id"]}}],  # no alt_text
        image(slack_file={"id": file["id"]}, alt_text="x" * 2001),
        image(slack_file={"id": file["id"]}, title={"type": "plain_text", "text": "x" * 2001}),
    ):
        err = _api_error(slack_client.chat_postMessage, channel="C0CUSTSUCC", text="chart", blocks=bad_blocks)
        assert (error_code(err), classify(err)) == ("invalid_blocks", ErrorCategory.BAD_REQUEST), bad_blocks
    home = {"type": "home", "blocks": image(slack_file={"id": "F0NOPE0000"})}
    assert error_code(_api_error(slack_client.views_publish, user_id="U0ANA", view=home)) == "invalid_arguments"
    assert len(slack_stub.posted) == 3


def test_reset_forgets_files(slack_stub: SlackStub, slack_client: WebClient) -> None:
    file = slack_client.files_upload_v2(file=PNG_BYTES, filename="a.png")["file"]
    slack_client.files_getUploadURLExternal(filename="b.png", length=1)
    slack_stub.reset()
    assert slack_stub.uploaded_files == [] and slack_stub.pending_uploads == {}
    assert error_code(_api_error(slack_client.files_info, file=file["id"])) == "file_not_found"
