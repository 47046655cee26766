"""Pure builders for every Slack message and view of the app, one module per kind:

* ``signals_list`` — the reply to `/signals`;
* ``org_detail``   — the reply to `/org` and the Open modal (and its loading placeholder);
* ``org_lookup``   — `/org` with several matches to pick from, or none;
* ``help``         — help for both commands;
* ``errors``       — failures and refusals, as an ephemeral reply or a small modal;
* ``updates``      — the clicked message edited in place after Tag case / Dismiss;
* ``cells``        — the orgs of one Revenue × Health cell;
* ``notes``        — the Add note modal, and what it shows while and after saving;
* ``items``        — the blocks all of them share: one org as a list item, summary cards;
* ``common``       — the validated return (``finish``), short values, dates, symbols.

The digest, alerts and Home tab (``bot.digest_messages``, ``bot.alert_messages``,
``bot.home_messages``) are built the same way from ``items``. Each builder takes read
models (``services.read_models``) and Config and returns a plain dict checked against Block
Kit limits (``bot.limits``) before it is returned. Wording comes from templates/*.md.j2;
click payload formats (action ids, values, block ids) are defined in ``bot.payloads``.
"""

from bot.messages.cells import cell_orgs_message, cell_orgs_modal
from bot.messages.common import Message, band_emoji, signal_symbol, trend_arrow
from bot.messages.errors import error_message, notice_modal, refusal_message
from bot.messages.help import help_message
from bot.messages.items import (
    cell_list_button,
    item_actions_block,
    signal_item_blocks,
    signal_item_text,
    summary_cards_block,
)
from bot.messages.notes import note_modal, note_saved_modal, note_saving_modal
from bot.messages.org_detail import (
    loading_modal,
    org_detail_blocks,
    org_detail_message,
    org_detail_modal,
    org_tools_blocks,
)
from bot.messages.org_lookup import org_choices_message, org_not_found_message
from bot.messages.signals_list import signals_list_message
from bot.messages.updates import item_dismissed_update, item_tagged_update

__all__ = [
    "Message",
    "band_emoji",
    "cell_list_button",
    "cell_orgs_message",
    "cell_orgs_modal",
    "error_message",
    "help_message",
    "item_actions_block",
    "item_dismissed_update",
    "item_tagged_update",
    "loading_modal",
    "note_modal",
    "note_saved_modal",
    "note_saving_modal",
    "notice_modal",
    "org_choices_message",
    "org_detail_blocks",
    "org_detail_message",
    "org_detail_modal",
    "org_not_found_message",
    "org_tools_blocks",
    "refusal_message",
    "signal_item_blocks",
    "signal_item_text",
    "signal_symbol",
    "signals_list_message",
    "summary_cards_block",
    "trend_arrow",
]
