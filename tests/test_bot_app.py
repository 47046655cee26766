"""The Slack app end to end: signed HTTP requests into the real Bolt app behind waitress,
answers checked where Slack would see them (the local stand-in's response_urls and Web API)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import time

import pytest
from sqlalchemy import func, select

from bot.messages import help_message, signals_list_message
from bot_harness import NOW, SECRET, blocks_text, seed_orgs, start_bot
from services import signal_list
from domain.config import Config
from slack_stub import app_home_opened_body, signed_request_headers, slash_command_body
from storage.models import AuditLog, CaseTag, Signal


@pytest.fixture
def bot(session_factory, slack_stub):
    ids = seed_orgs(session_factory)
    running = start_bot(session_factory, slack_stub)
    running.ids = ids
    yield running
    running.stop()


def _has_buttons(blocks: list[dict], org_id: str) -> bool:
    return any(b.get("type") == "actions" and b.get("block_id", "").endswith(f"|{org_id}") for b in blocks)


def _item_orgs(blocks: list[dict]) -> list[str]:
    return [b["block_id"].split("|", 1)[1] for b in blocks if b.get("block_id", "").startswith("item|")]


def test_signals_top_10_answers_ephemerally_with_exactly_the_built_list(bot, session_factory) -> None:
    (reply,) = bot.replies(bot.command("/signals", "top 10"))
    assert reply["response_type"] == "ephemeral"
    assert _item_orgs(reply["blocks"]) == ["globex", "initech", "acme"]
    with session_factory() as s:
        result = signal_list.list_signals(s, 1, NOW, signal_list.SignalFilter(top=10))
    expected = signals_list_message(result.cards, result.items, NOW, Config(), title="Top signals",
                                    filters_text="top 10", query="/signals top 10")
    assert reply["blocks"] == expected["blocks"]
    text = blocks_text(reply["blocks"])
    assert "Globex &lt;Intl&gt; &amp; Co" in text  # org names escaped for mrkdwn
    actions = [b for b in reply["blocks"] if b["type"] == "actions"]
    assert [e["action_id"] for e in actions[0]["elements"]] == ["org_open", "case_tag", "signal_dismiss"]


@pytest.mark.parametrize("text,orgs", [
    ("top 2", ["globex", "initech"]),
    ("drop", ["globex"]),
    ("expansion", ["acme"]),
    ("risk", ["globex", "initech"]),
    ("case:expansion", ["acme"]),
    ("mine", ["acme"]),  # U0ANA is ana@example.com in the stand-in: users.info maps it
])
def test_signals_filters(bot, text: str, orgs: list[str]) -> None:
    (reply,) = bot.replies(bot.command("/signals", text))
    assert _item_orgs(reply["blocks"]) == orgs


def test_mine_maps_owner_by_slack_id_and_email(bot) -> None:
    (reply,) = bot.replies(bot.command("/signals", "mine", user_id="U0BEN"))
    assert _item_orgs(reply["blocks"]) == ["globex", "initech"]  # U0BEN by id, ben@example.com by e-mail
    assert len(bot.stub.calls_to("users.info")) == 1  # one lookup of the caller, not one per owner


def test_unparseable_signals_gets_help_showing_what_was_not_understood(bot) -> None:
    (reply,) = bot.replies(bot.command("/signals", "top 5 bananas"))
    assert reply["blocks"] == help_message("bananas", cfg=Config())["blocks"]
    assert "bananas" in blocks_text(reply["blocks"])


def test_org_exact_ambiguous_and_missing(bot) -> None:
    exact = bot.reply(bot.command("/org", "globex.com"))
    text = blocks_text(exact["blocks"])
    assert exact["response_type"] == "ephemeral" and "Globex &lt;Intl&gt; &amp; Co" in text
    assert "Health 30 (red) with $9,000 MRR" in text

    ambiguous = bot.reply(bot.command("/org", "acm"))
    picks = [b["accessory"]["value"] for b in ambiguous["blocks"]
             if b.get("accessory", {}).get("action_id") == "org_pick"]
    assert picks == ["acme", "acme-eu"]

    missing = bot.reply(bot.command("/org", "initek"))
    assert "Initech" in blocks_text(missing["blocks"])


def test_open_button_opens_the_org_modal(bot) -> None:
    (reply,) = bot.replies(bot.command("/signals", ""))
    bot.click(reply["blocks"], "org_open", block_id="item_actions|globex")
    (opened,) = bot.stub.wait_for("views.open")  # at once, within the trigger's 3 seconds
    (call,) = bot.stub.wait_for("views.update")  # then filled in
    view = call.args["view"]
    view = json.loads(view) if isinstance(view, str) else view
    assert view["type"] == "modal" and view["private_metadata"] == "globex"
    assert "Health 30" in blocks_text(view["blocks"])


def _post_list_message(bot) -> tuple[str, str, list[dict]]:
    """A /signals list posted in a channel (as the digest is), so clicks can edit it in place."""
    (reply,) = bot.replies(bot.command("/signals", ""))
    posted = bot.stub.handle_api("chat.postMessage", {"channel": "C0CUSTSUCC", "text": "list",
                                                      "blocks": reply["blocks"]}, bot.stub.token)
    return posted["channel"], posted["ts"], reply["blocks"]


def test_tag_case_stores_audits_and_updates_the_message_in_place(bot, session_factory) -> None:
    channel, ts, blocks = _post_list_message(bot)
    url = bot.click(blocks, "case_tag", block_id="item_actions|initech", option_value="onboarding|initech",
                    channel=channel, ts=ts)
    (reply,) = bot.replies(url)
    assert reply["replace_original"] is True
    message = bot.stub.message(channel, ts)
    assert "Tagged *onboarding* by <@U0ANA>" in blocks_text(message["blocks"])
    # The org keeps its buttons (a tag holds until someone changes it); the menu shows the tag.
    (row,) = [b for b in message["blocks"] if b.get("type") == "actions" and b["block_id"].endswith("|initech")]
    (menu,) = [e for e in row["elements"] if e["action_id"] == "case_tag"]
    assert menu["initial_option"]["value"] == "onboarding|initech"
    assert _has_buttons(message["blocks"], "globex")
    with session_factory() as s:
        tag = s.get(CaseTag, "initech")
        assert (tag.case_type, tag.tagged_by) == ("onboarding", "U0ANA")
        (audit,) = s.scalars(select(AuditLog)).all()
        assert (audit.actor, audit.action, audit.via, audit.after["case_type"]) == (
            "U0ANA", "tag", "slack", "onboarding")


def test_dismiss_and_double_click_change_once(bot, session_factory) -> None:
    channel, ts, blocks = _post_list_message(bot)
    ids = ",".join(str(i) for i in bot.ids["globex"])
    first = bot.click(blocks, "signal_dismiss", block_id="item_actions|globex", option_value=f"dismiss|{ids}",
                      channel=channel, ts=ts)
    bot.replies(first)
    updated = blocks_text(bot.stub.message(channel, ts)["blocks"])
    assert "~Globex &lt;Intl&gt; &amp; Co~ dismissed by <@U0ANA>" in updated
    # The same click again (the original blocks, as a second fast click would carry).
    second = bot.click(blocks, "signal_dismiss", block_id="item_actions|globex", option_value=f"dismiss|{ids}",
                       channel=channel, ts=ts)
    (again,) = bot.replies(second)
    assert again["response_type"] == "ephemeral" and again["replace_original"] is False
    assert "already dismissed" in blocks_text(again["blocks"])
    with session_factory() as s:
        statuses = s.scalars(select(Signal.status).where(Signal.org_id == "globex")).all()
        assert statuses == ["dismissed", "dismissed"]
        assert s.scalar(select(func.count()).select_from(AuditLog)) == 2  # one per signal, once
    (listing,) = bot.replies(bot.command("/signals", ""))
    assert _item_orgs(listing["blocks"]) == ["initech", "acme"]


def test_snooze_four_weeks_records_until(bot, session_factory) -> None:
    channel, ts, blocks = _post_list_message(bot)
    ids = ",".join(str(i) for i in bot.ids["acme"])
    bot.replies(bot.click(blocks, "signal_dismiss", block_id="item_actions|acme", option_value=f"snooze28|{ids}",
                          channel=channel, ts=ts))
    assert "snoozed until 2026-12-21" in blocks_text(bot.stub.message(channel, ts)["blocks"])
    with session_factory() as s:
        sig = s.get(Signal, bot.ids["acme"][0])
        assert sig.status == "snoozed" and sig.snoozed_until == NOW + dt.timedelta(days=28)


def test_click_on_a_signal_that_resolved_meanwhile_is_explained(bot, session_factory) -> None:
    channel, ts, blocks = _post_list_message(bot)
    with session_factory() as s, s.begin():
        s.get(Signal, bot.ids["initech"][0]).status = "resolved"
    url = bot.click(blocks, "signal_dismiss", block_id="item_actions|initech",
                    option_value=f"dismiss|{bot.ids['initech'][0]}", channel=channel, ts=ts)
    (reply,) = bot.replies(url)
    assert reply["replace_original"] is False and "already resolved itself" in blocks_text(reply["blocks"])
    assert _has_buttons(bot.stub.message(channel, ts)["blocks"], "initech")


def test_unauthorized_user_is_refused_and_nothing_changes(session_factory, slack_stub) -> None:
    ids = seed_orgs(session_factory)
    cfg = dataclasses.replace(Config(), slack=dataclasses.replace(Config().slack, authorized_usergroups=["S0CSLEADS"]))
    bot = start_bot(session_factory, slack_stub, cfg)
    try:
        (reply,) = bot.replies(bot.command("/signals", ""))
        url = bot.click(reply["blocks"], "signal_dismiss", block_id="item_actions|globex", user_id="U0CAL",
                        option_value=f"dismiss|{','.join(map(str, ids['globex']))}")
        (refusal,) = bot.replies(url)
        assert refusal["response_type"] == "ephemeral" and refusal["replace_original"] is False
        refusal_text = blocks_text(refusal["blocks"]).lower()
        assert "not allowed" in refusal_text or "only" in refusal_text
        with session_factory() as s:
            assert set(s.scalars(select(Signal.status).where(Signal.org_id == "globex"))) == {"active"}
            assert s.scalar(select(func.count()).select_from(AuditLog)) == 0
        # U0ANA is in the S0CSLEADS group: allowed.
        ok = bot.click(reply["blocks"], "case_tag", block_id="item_actions|globex", option_value="risk|globex")
        bot.replies(ok)
        with session_factory() as s:
            assert s.get(CaseTag, "globex").tagged_by == "U0ANA"
    finally:
        bot.stop()


def test_slack_api_error_gets_a_clear_ephemeral_reply_and_a_log_line(bot, caplog) -> None:
    (reply,) = bot.replies(bot.command("/signals", ""))
    bot.stub.fail_next("views.open", error="expired_trigger_id")
    url = bot.click(reply["blocks"], "org_open", block_id="item_actions|globex")
    (error,) = bot.replies(url)
    assert error["response_type"] == "ephemeral" and error["replace_original"] is False
    assert "expired_trigger_id" in caplog.text
    (listing,) = bot.replies(bot.command("/signals", ""))  # the app still answers
    assert _item_orgs(listing["blocks"]) == ["globex", "initech", "acme"]


def test_bad_signature_and_stale_timestamp_are_refused(bot) -> None:
    body = slash_command_body("/signals", "top 10", response_url=bot.stub.new_response_url())
    status, _ = bot.post(body, signed_request_headers(body, "wrong-secret",
                                                      content_type="application/x-www-form-urlencoded"))
    assert status == 401
    stale = int(time.time()) - 6 * 60
    status, _ = bot.post(body, signed_request_headers(body, SECRET, timestamp=stale,
                                                      content_type="application/x-www-form-urlencoded"))
    assert status == 401


def test_commands_are_acknowledged_fast(bot) -> None:
    body = slash_command_body("/signals", "top 25", response_url=bot.stub.new_response_url())
    start = time.monotonic()
    status, _ = bot.post(body, signed_request_headers(body, SECRET, content_type="application/x-www-form-urlencoded"))
    assert status == 200 and time.monotonic() - start < 3.0


def test_home_tab_and_slack_event_retries_are_handled_once(bot) -> None:
    body = app_home_opened_body("U0ANA", event_id="Ev123")
    assert bot.event(body) == 200
    bot.stub.wait_for("views.publish")
    assert bot.event(body, retry_num=1) == 200
    time.sleep(0.3)
    assert len(bot.stub.calls_to("views.publish")) == 1
    home = bot.stub.home_views["U0ANA"]
    text = blocks_text(home["blocks"])
    assert "Revenue × Health" in text and "Acme Corp" in text and "Globex" not in text  # only Ana's orgs


def test_healthz(bot) -> None:
    import urllib.request

    with urllib.request.urlopen(bot.url + "/healthz", timeout=5) as resp:
        assert resp.status == 200 and json.loads(resp.read()) == {"ok": True, "database": "ok"}


def test_click_on_an_ephemeral_list_rebuilds_the_persons_last_query_in_place(bot) -> None:
    """Slack sends no blocks for ephemeral messages: the list is re-run and replaces the reply."""
    (reply,) = bot.replies(bot.command("/signals", "risk"))
    assert _item_orgs(reply["blocks"]) == ["globex", "initech"]
    ids = ",".join(str(i) for i in bot.ids["initech"])
    url = bot.click(reply["blocks"], "signal_dismiss", block_id="item_actions|initech",
                    option_value=f"dismiss|{ids}", ephemeral=True)
    (rebuilt,) = bot.replies(url)
    assert rebuilt["replace_original"] is True
    assert _item_orgs(rebuilt["blocks"]) == ["globex"]  # same filter, initech gone


def test_signals_by_revenue_health_cell_and_the_digest_cell_button(bot) -> None:
    # Paying orgs: globex 9000 (health 30), acme 5000 (82), initech 4000 (20); median 5000.
    (reply,) = bot.replies(bot.command("/signals", "cell:at-risk"))
    assert _item_orgs(reply["blocks"]) == ["globex"]
    (reply,) = bot.replies(bot.command("/signals", "champions"))
    assert _item_orgs(reply["blocks"]) == ["acme"]
    (reply,) = bot.replies(bot.command("/signals", "watch"))
    assert _item_orgs(reply["blocks"]) == ["initech"]
    cell_button = [{"type": "section", "text": {"type": "mrkdwn", "text": "Revenue at risk"},
                    "accessory": {"type": "button", "text": {"type": "plain_text", "text": "List orgs"},
                                  "action_id": "cell_list", "value": "revenue_at_risk"}}]
    (listing,) = bot.replies(bot.click(cell_button, "cell_list"))
    assert listing["response_type"] == "ephemeral" and listing["replace_original"] is False
    text = blocks_text(listing["blocks"])
    assert "1 org," in text and "Globex &lt;Intl&gt; &amp; Co" in text and "$9,000" in text


def test_picking_one_of_several_matches_replaces_the_choices_with_the_detail(bot) -> None:
    choices = bot.reply(bot.command("/org", "acme"))
    # "acme" is an exact id: one match straight away; "acm" gives the choice list.
    assert "Acme Corp" in blocks_text(choices["blocks"])
    choices = bot.reply(bot.command("/org", "acm"))
    url = bot.click(choices["blocks"], "org_pick", block_id=None)
    (detail,) = bot.replies(url)
    assert detail["replace_original"] is True and "Acme Corp" in blocks_text(detail["blocks"])


def test_click_on_an_org_deleted_meanwhile_is_explained(bot, session_factory) -> None:
    from storage.models import CaseTag as Tag, HealthSnapshot, Org, Subscription

    (reply,) = bot.replies(bot.command("/signals", ""))
    with session_factory() as s, s.begin():
        for model in (Signal, HealthSnapshot, Subscription, Tag):
            s.query(model).filter(model.org_id == "acme").delete()
        s.query(Org).filter(Org.org_id == "acme").delete()
    (tag_reply,) = bot.replies(bot.click(reply["blocks"], "case_tag", block_id="item_actions|acme",
                                         option_value="expansion|acme"))
    assert tag_reply["replace_original"] is False and "no longer exists" in blocks_text(tag_reply["blocks"])
    ids = ",".join(str(i) for i in bot.ids["acme"])
    (dismiss_reply,) = bot.replies(bot.click(reply["blocks"], "signal_dismiss", block_id="item_actions|acme",
                                             option_value=f"dismiss|{ids}"))
    assert "no longer exists" in blocks_text(dismiss_reply["blocks"])
    bot.click(reply["blocks"], "org_open", block_id="item_actions|acme")
    (update,) = bot.stub.wait_for("views.update")
    assert "no longer exists" in json.dumps(update.args["view"])


def test_inactive_filter_and_authorized_user_ids(session_factory, slack_stub) -> None:
    seed_orgs(session_factory)
    cfg = dataclasses.replace(Config(), slack=dataclasses.replace(Config().slack, authorized_users=["U0BEN"]))
    bot = start_bot(session_factory, slack_stub, cfg)
    try:
        (reply,) = bot.replies(bot.command("/signals", "inactive"))
        assert _item_orgs(reply["blocks"]) == []
        assert "Nothing" in blocks_text(reply["blocks"]) or "nothing" in blocks_text(reply["blocks"])
        (listing,) = bot.replies(bot.command("/signals", ""))
        refused = bot.click(listing["blocks"], "case_tag", block_id="item_actions|acme", option_value="risk|acme",
                            user_id="U0ANA")
        assert bot.replies(refused)[0]["replace_original"] is False
        allowed = bot.click(listing["blocks"], "case_tag", block_id="item_actions|acme", option_value="risk|acme",
                            user_id="U0BEN")
        assert bot.replies(allowed)[0]["replace_original"] is True
    finally:
        bot.stop()


def _home(bot) -> dict:
    assert bot.event(app_home_opened_body("U0ANA", event_id=f"Ev{time.monotonic_ns()}")) == 200
    bot.stub.wait_for("views.publish")
    return bot.stub.home_views["U0ANA"]


def test_buttons_on_the_home_tab(bot, session_factory) -> None:
    home = _home(bot)
    view = {**home, "id": "VHOME", "type": "home"}
    # Tag from Home: stored, and Home is published again showing it.
    bot.click(home["blocks"], "case_tag", block_id="item_actions|acme", option_value="risk|acme", view=view)
    bot.stub.wait_for("views.publish", 2)
    with session_factory() as s:
        assert s.get(CaseTag, "acme").case_type == "risk"
    assert "Tagged *risk* by <@U0ANA>" in blocks_text(bot.stub.home_views["U0ANA"]["blocks"])
    # Open from Home: a modal opens at once and is then filled in.
    bot.click(home["blocks"], "org_open", block_id="item_actions|acme", view=view)
    bot.stub.wait_for("views.open")
    (update,) = bot.stub.wait_for("views.update")
    assert "Acme Corp" in json.dumps(update.args["view"])
    # List orgs from Home: the cell's orgs in a modal (no response_url on a view).
    bot.click(home["blocks"], "cell_list", block_id=None, view=view)
    opened = bot.stub.wait_for("views.open", 2)
    assert "Globex" in json.dumps(opened[1].args["view"]) or "Acme" in json.dumps(opened[1].args["view"])


def test_clicks_inside_the_org_modal_redraw_it_and_explain_refusals(session_factory, slack_stub) -> None:
    seed_orgs(session_factory)
    cfg = dataclasses.replace(Config(), slack=dataclasses.replace(Config().slack, authorized_users=["U0ANA"]))
    bot = start_bot(session_factory, slack_stub, cfg)
    try:
        (reply,) = bot.replies(bot.command("/signals", ""))
        bot.click(reply["blocks"], "org_open", block_id="item_actions|globex")
        view = bot.opened_org_modal()  # as Slack holds it: id and hash
        modal = view
        before = len(bot.stub.calls_to("views.update"))
        bot.click(modal["blocks"], "case_tag", block_id="item_actions|globex", option_value="expansion|globex",
                  view=view)
        updates = bot.stub.wait_for("views.update", before + 1)
        assert "Tagged *expansion* by <@U0ANA>" in json.dumps(updates[-1].args["view"], ensure_ascii=False)
        # Someone not allowed: a small modal explains; nothing changes.
        bot.click(modal["blocks"], "case_tag", block_id="item_actions|globex", option_value="risk|globex",
                  view=view, user_id="U0CAL")
        (pushed,) = bot.stub.wait_for("views.push")
        assert "tag cases" in json.dumps(pushed.args["view"])
        assert all(c.ok for c in bot.stub.calls_to("views.update"))
        with session_factory() as s:
            assert s.get(CaseTag, "globex").case_type == "expansion"
    finally:
        bot.stop()


def test_a_click_rebuilds_the_reply_it_was_on_not_the_last_command(bot) -> None:
    (signals_reply,) = bot.replies(bot.command("/signals", "risk"))
    bot.replies(bot.command("/org", "acme corp"))  # a later command in the same channel
    ids = ",".join(str(i) for i in bot.ids["initech"])
    url = bot.click(signals_reply["blocks"], "signal_dismiss", block_id="item_actions|initech",
                    option_value=f"dismiss|{ids}", ephemeral=True)
    (rebuilt,) = bot.replies(url)
    assert rebuilt["replace_original"] is True
    assert _item_orgs(rebuilt["blocks"]) == ["globex"]  # the /signals risk list, without initech


def test_double_snooze_changes_once(bot, session_factory) -> None:
    channel, ts, blocks = _post_list_message(bot)
    ids = ",".join(str(i) for i in bot.ids["acme"])
    bot.replies(bot.click(blocks, "signal_dismiss", block_id="item_actions|acme", option_value=f"snooze7|{ids}",
                          channel=channel, ts=ts))
    (again,) = bot.replies(bot.click(blocks, "signal_dismiss", block_id="item_actions|acme",
                                     option_value=f"snooze28|{ids}", channel=channel, ts=ts))
    assert again["replace_original"] is False and "already snoozed until 2026-11-30" in blocks_text(again["blocks"])
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(AuditLog)) == 1
