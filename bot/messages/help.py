"""Help for `/signals` and `/org`, saying first what was not understood."""

from __future__ import annotations

from bot.blocks import section
from bot.messages.common import QUERY_MAX, Message, finish, short
from domain.config import Config
from domain.vocabulary import CASE_TYPES, SIGNAL_SHORT_NAMES
from bot.templates import render, render_macro

# Filter words shown by the help (the command parser, bot.command_parsing, is the authority).
HELP_CELL_FILTERS = ("cell:at-risk", "cell:champions", "cell:watch", "cell:expansion")
HELP_TIER_FILTERS = ("tier1", "tier2", "tier3", "tier4")


def help_message(unparsed: str | None = None, *, cfg: Config | None = None) -> Message:
    """Help for /signals and /org, saying first what was not understood (if anything)."""
    cfg = cfg or Config()
    shown = short(unparsed, QUERY_MAX).replace("`", "'") if unparsed else ""
    text = render(
        "help.md.j2",
        unparsed=shown,
        default_top=cfg.slack.signals_default_top,
        max_top=cfg.slack.signals_max_top,
        signal_filters=list(SIGNAL_SHORT_NAMES),
        case_types=list(CASE_TYPES),
        cells=list(HELP_CELL_FILTERS),
        tiers=list(HELP_TIER_FILTERS),
    )
    return finish(render_macro("fallbacks.md.j2", "help"), [section(text)])

