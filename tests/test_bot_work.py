"""Notes, owners and org charts end to end: signed requests into the real Bolt app, answers
and uploads checked at the local Slack stand-in, changes in the database and the audit log."""

from __future__ import annotations

import dataclasses
import io
import json
import logging

import pytest
from PIL import Image
from sqlalchemy import select

from bot_harness import SECRET, blocks_text, seed_orgs, start_bot
from domain.config import Config
from slack_stub import interaction_body, signed_request_headers, view_submission_payload
from storage.models import AuditLog, Note, OrgOwner


@pytest.fixture
def bot(session_factory, slack_stub):
    seed_orgs(session_factory)
    running = start_bot(session_factory, slack_stub)
    yield running
    running.stop()


def _images(blocks: list[dict]) -> list[dict]:
    return [b for b in blocks if b.get("type") == "image"]


def _view(call) -> dict:
    view = call.args["view"]
    return json.loads(view) if isinstance(view, str) else view


def _assert_real_png(data: bytes) -> None:
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG" and image.size == (800, 400)
    colours = image.convert("RGB").getcolors(maxcolors=800 * 400)
    assert colours is not None and len(colours) > 50  # not blank
    white = sum(n for n, rgb in colours if rgb == (255, 255, 255))
    assert white < 0.9 * 800 * 400


# --- charts ----------------------------------------------------------------------------------


def test_org_reply_shows_its_chart_uploaded_once(bot) -> None:
    url = bot.command("/org", "acme")
    # The text answers first; the same reply with the chart, once drawn and uploaded, replaces it.
    (text_first, first) = bot.replies(url)
    assert _images(text_first["blocks"]) == [] and "replace_original" not in text_first
    assert first["replace_original"] is True and first["response_type"] == "ephemeral"
    assert [b for b in first["blocks"] if b["type"] != "image"] == text_first["blocks"]
    (image,) = _images(first["blocks"])
    (uploaded,) = bot.stub.uploaded_files
    assert image["slack_file"] == {"id": uploaded.file_id} and uploaded.channel is None
    assert image["alt_text"].startswith("Acme Corp, last 12 weeks: health 82")
    _assert_real_png(uploaded.data)
    # What the person sees is one message, edited to show the chart.
    (shown,) = bot.stub.ephemeral
    assert shown["blocks"] == first["blocks"] and shown["edited"] is True
    # Asked again (and redrawn by a click): one answer with the same file, not a second upload.
    (again,) = bot.replies(bot.command("/org", "acme"))
    assert _images(again["blocks"]) == [image]
    assert len(bot.stub.calls_to("files.getUploadURLExternal")) == 1
    # The image sits right under the usage, the text still says it all.
    types = [b["type"] for b in first["blocks"]]
    assert types.index("image") == 1 + next(i for i, b in enumerate(first["blocks"])
                                            if b.get("text", {}).get("text", "").startswith("*Usage"))


def test_a_failed_upload_still_delivers_the_reply_and_logs_it(bot, caplog) -> None:
    bot.stub.fail_next("files.getUploadURLExternal", error="missing_scope")
    with caplog.at_level(logging.WARNING):
        reply = bot.reply(bot.command("/org", "globex.com"))
    assert _images(reply["blocks"]) == [] and "Health 30 (red) with $9,000 MRR" in blocks_text(reply["blocks"])
    assert "chart upload globex-12-weeks.png failed: missing_scope" in caplog.text
    # The next /org tries again (a failure is not remembered) and shows the chart.
    later = bot.reply(bot.command("/org", "globex.com"))
    assert len(_images(later["blocks"])) == 1


def test_charts_off_uploads_nothing(session_factory, slack_stub) -> None:
    seed_orgs(session_factory)
    cfg = dataclasses.replace(Config(), slack=dataclasses.replace(Config().slack, charts=False))
    bot = start_bot(session_factory, slack_stub, cfg)
    try:
        reply = bot.reply(bot.command("/org", "acme"))
        assert _images(reply["blocks"]) == [] and bot.stub.calls_to("files.getUploadURLExternal") == []
    finally:
        bot.stop()


def test_the_org_modal_shows_the_chart(bot) -> None:
    (reply,) = bot.replies(bot.command("/signals", ""))
    bot.click(reply["blocks"], "org_open", block_id="item_actions|globex")
    bot.settle()
    # The detail fills the modal at once; the chart, drawn and uploaded after, is added to it.
    (text_first, with_chart) = bot.stub.calls_to("views.update")
    assert text_first.ok and with_chart.ok and _images(_view(text_first)["blocks"]) == []
    assert "Globex" in json.dumps(_view(text_first)) and with_chart.args["view_id"] == text_first.args["view_id"]
    (image,) = _images(_view(with_chart)["blocks"])
    assert image["slack_file"]["id"] == bot.stub.uploaded_files[0].file_id
    # Opened again with the same numbers: the chart is already in Slack, in the first update.
    bot.click(reply["blocks"], "org_open", block_id="item_actions|globex")
    bot.settle()
    (again,) = bot.stub.calls_to("views.update")[2:]
    assert _images(_view(again)["blocks"]) == [image]


# --- notes -----------------------------------------------------------------------------------


def test_add_note_from_the_org_reply_round_trip(bot, session_factory) -> None:
    url = bot.command("/org", "initech")
    reply = bot.reply(url)
    assert "*Notes*\\nNone yet." in blocks_text(reply["blocks"])
    click_url = bot.click(reply["blocks"], "note_open", block_id="org_tools|initech", ephemeral=True)
    (opened,) = bot.stub.wait_for("views.open")
    modal = bot.stub.views[opened.response["view"]["id"]]
    assert modal["callback_id"] == "note_add"
    assert json.loads(modal["private_metadata"]) == {"org": "initech", "url": click_url}

    status, ack = bot.submit(modal, {"note": {"note_text": "Called Dana (CFO): recovery plan agreed"}})
    assert status == 200 and ack["response_action"] == "update"
    assert "Saving the note" in json.dumps(ack["view"])
    (saved,) = bot.stub.wait_for("views.update")
    assert saved.args["view_id"] == modal["id"] and "Note saved on *Initech*" in json.dumps(_view(saved))
    # The /org reply the button was on is redrawn with the note, through the click's response_url.
    (redrawn,) = bot.replies(click_url)
    assert redrawn["replace_original"] is True
    assert "Called Dana (CFO): recovery plan agreed" in blocks_text(redrawn["blocks"])
    with session_factory() as s:
        (note,) = s.scalars(select(Note)).all()
        assert (note.org_id, note.author, note.text, note.via) == ("initech", "U0ANA",
                                                                   "Called Dana (CFO): recovery plan agreed", "slack")
        (audit,) = s.scalars(select(AuditLog)).all()
        assert (audit.actor, audit.action, audit.org_id, audit.via) == ("U0ANA", "note", "initech", "slack")


def test_add_note_from_the_org_modal_redraws_the_modal(bot, session_factory) -> None:
    (reply,) = bot.replies(bot.command("/signals", ""))
    bot.click(reply["blocks"], "org_open", block_id="item_actions|acme")
    org_modal = bot.opened_org_modal()
    before = len(bot.stub.calls_to("views.update"))
    bot.click(org_modal["blocks"], "note_open", block_id="org_tools|acme", view=org_modal)
    (pushed,) = bot.stub.wait_for("views.push")
    note_modal = bot.stub.views[pushed.response["view"]["id"]]
    status, ack = bot.submit(note_modal, {"note": {"note_text": "QBR booked for 3 December"}})
    assert status == 200 and ack["response_action"] == "update"
    updates = bot.stub.wait_for("views.update", before + 2)
    redrawn = [u for u in updates[before:] if u.args["view_id"] == org_modal["id"]]
    assert redrawn and "QBR booked for 3 December" in json.dumps(_view(redrawn[-1]))
    with session_factory() as s:
        assert s.scalars(select(Note.text)).all() == ["QBR booked for 3 December"]


def test_an_empty_note_is_refused_inline_and_nothing_is_stored(bot, session_factory) -> None:
    reply = bot.reply(bot.command("/org", "acme"))
    bot.click(reply["blocks"], "note_open", block_id="org_tools|acme", ephemeral=True)
    (opened,) = bot.stub.wait_for("views.open")
    status, ack = bot.submit(bot.stub.views[opened.response["view"]["id"]], {"note": {"note_text": "   "}})
    assert status == 200 and ack == {"response_action": "errors", "errors": {"note": "Write the note first."}}
    with session_factory() as s:
        assert s.scalars(select(Note)).all() == []


def test_notes_follow_the_same_authorization_as_tags(session_factory, slack_stub) -> None:
    seed_orgs(session_factory)
    cfg = dataclasses.replace(Config(), slack=dataclasses.replace(Config().slack, authorized_users=["U0BEN"]))
    bot = start_bot(session_factory, slack_stub, cfg)
    try:
        reply = bot.reply(bot.command("/org", "acme"))
        bot.click(reply["blocks"], "note_open", block_id="org_tools|acme", ephemeral=True)
        (opened,) = bot.stub.wait_for("views.open")
        modal = bot.stub.views[opened.response["view"]["id"]]
        bot.submit(modal, {"note": {"note_text": "I should not be able to write this"}}, user_id="U0CAL")
        (refused,) = bot.stub.wait_for("views.update")
        assert "not allowed to add notes" in json.dumps(_view(refused))
        with session_factory() as s:
            assert s.scalars(select(Note)).all() == [] and s.scalars(select(AuditLog)).all() == []
    finally:
        bot.stop()


def test_a_note_submission_replayed_is_refused(bot, session_factory) -> None:
    reply = bot.reply(bot.command("/org", "acme"))
    bot.click(reply["blocks"], "note_open", block_id="org_tools|acme", ephemeral=True)
    (opened,) = bot.stub.wait_for("views.open")
    body = interaction_body(view_submission_payload(bot.stub.views[opened.response["view"]["id"]],
                                                    {"note": {"note_text": "Once"}}))
    headers = signed_request_headers(body, SECRET, content_type="application/x-www-form-urlencoded")
    assert bot.post(body, headers)[0] == 200
    assert bot.post(body, headers)[0] == 401
    bot.stub.wait_for("views.update")
    with session_factory() as s:
        assert s.scalars(select(Note.text)).all() == ["Once"]


# --- owners ----------------------------------------------------------------------------------


def test_assign_from_the_org_reply_is_stored_audited_and_followed_by_mine(bot, session_factory) -> None:
    (mine,) = bot.replies(bot.command("/signals", "mine", user_id="U0CAL"))
    assert "Acme Corp" not in blocks_text(mine["blocks"])
    reply = bot.reply(bot.command("/org", "acme"))
    (tools,) = [b for b in reply["blocks"] if b.get("block_id") == "org_tools|acme"]
    assert [e["type"] for e in tools["elements"]] == ["button", "users_select"]
    url = bot.click(reply["blocks"], "org_assign", block_id="org_tools|acme", option_value="U0CAL", ephemeral=True)
    (redrawn,) = bot.replies(url)
    assert redrawn["replace_original"] is True
    text = blocks_text(redrawn["blocks"])
    assert "Owner <@U0CAL>, assigned by <@U0ANA>" in text and "(imported: ana@example.com)" in text
    with session_factory() as s:
        owner = s.get(OrgOwner, "acme")
        assert (owner.owner, owner.assigned_by) == ("U0CAL", "U0ANA")
        (audit,) = s.scalars(select(AuditLog)).all()
        assert (audit.action, audit.actor, audit.before["owner"], audit.after["owner"]) == (
            "assign", "U0ANA", "ana@example.com", "U0CAL")
    (mine,) = bot.replies(bot.command("/signals", "mine", user_id="U0CAL"))
    assert "Acme Corp" in blocks_text(mine["blocks"])
    (ana,) = bot.replies(bot.command("/signals", "mine", user_id="U0ANA"))
    assert "Acme Corp" not in blocks_text(ana["blocks"])


def test_assign_in_the_org_modal_redraws_it_and_refuses_the_unauthorized(session_factory, slack_stub) -> None:
    seed_orgs(session_factory)
    cfg = dataclasses.replace(Config(), slack=dataclasses.replace(Config().slack, authorized_users=["U0ANA"]))
    bot = start_bot(session_factory, slack_stub, cfg)
    try:
        (reply,) = bot.replies(bot.command("/signals", ""))
        bot.click(reply["blocks"], "org_open", block_id="item_actions|globex")
        modal = bot.opened_org_modal()
        before = len(bot.stub.calls_to("views.update"))
        bot.click(modal["blocks"], "org_assign", block_id="org_tools|globex", option_value="U0BEN",
                  view=modal, user_id="U0CAL")
        (pushed,) = bot.stub.wait_for("views.push")
        assert "assign owners" in json.dumps(_view(pushed))
        bot.click(modal["blocks"], "org_assign", block_id="org_tools|globex", option_value="U0CAL", view=modal)
        updates = bot.stub.wait_for("views.update", before + 1)
        assert "Owner <@U0CAL>, assigned by <@U0ANA>" in json.dumps(_view(updates[-1]), ensure_ascii=False)
        with session_factory() as s:
            assert s.get(OrgOwner, "globex").owner == "U0CAL"
    finally:
        bot.stop()


def test_a_reply_slack_refuses_for_its_image_is_sent_again_without_it(bot, caplog) -> None:
    bot.replies(bot.command("/org", "acme"))  # uploads the chart; the app remembers its file id
    bot.stub.files.clear()  # Slack no longer knows that file (deleted, or not yet processed)
    with caplog.at_level(logging.WARNING):
        url = bot.command("/org", "acme")
        (reply,) = bot.replies(url)
    assert _images(reply["blocks"]) == [] and "Acme Corp" in blocks_text(reply["blocks"])
    (refused, resent) = bot.stub.calls_to("response_url")[-2:]
    assert (refused.status, refused.error) == (400, "invalid_blocks") and resent.ok
    assert "sent again without the chart" in caplog.text
