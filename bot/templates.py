"""Jinja2 environment for the human-readable text of Slack messages (templates/*.md.j2).

Wording lives in templates so it can be changed without touching Block Kit structure.
Escaping is on by default, Slack style: every `{{ value }}` that is a plain string is
passed through `escape_mrkdwn` (and collapsed to one line) on output, so an org named
"<!channel>" can never ping a channel, even from a template that forgot a filter. Values
that are already mrkdwn (mentions, numbers formatted by a filter, nested fragments) are
`Mrkdwn` strings and are output as they are.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

import templates

from bot.blocks import escape_mrkdwn, one_line, user_mention
from domain.formatting import format_money, format_percent

TEMPLATES_DIR = Path(templates.__file__).resolve().parent  # package data: works installed, not only in a checkout
MINUS = "−"  # U+2212, the typographic minus: "activity −18" reads as a drop, not a dash


class Mrkdwn(str):
    """A string that is already valid, escaped mrkdwn."""


def mrkdwn_filter(value: Any) -> Mrkdwn:
    if isinstance(value, Mrkdwn):
        return value
    return Mrkdwn(escape_mrkdwn(one_line("" if value is None else value)))


def money_filter(amount: float | None, symbol: str = "$") -> Mrkdwn:
    return Mrkdwn(escape_mrkdwn(format_money(amount, symbol)))


def pct_filter(ratio: float | None, signed: bool = True) -> Mrkdwn:
    return Mrkdwn(format_percent(ratio, signed=signed))


def signed_filter(value: float | None, digits: int = 0) -> Mrkdwn:
    """+18 / −6 / 0: score changes read better with an explicit sign."""
    if value is None:
        return Mrkdwn("")
    rounded = round(float(value), digits)
    text = f"{abs(rounded):.{digits}f}"
    if float(text) == 0:
        return Mrkdwn(f"{0:.{digits}f}")
    return Mrkdwn(("+" if rounded > 0 else MINUS) + text)


def num_filter(value: float | None, digits: int = 0) -> Mrkdwn:
    if value is None:
        return Mrkdwn("n/a")
    return Mrkdwn(f"{float(value):,.{digits}f}")


def mention_filter(user: str | None) -> Mrkdwn:
    return Mrkdwn(user_mention(user))


def _finalize(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, Mrkdwn):
        return value
    if isinstance(value, str):
        return escape_mrkdwn(one_line(value))
    return value


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=False,  # HTML escaping would show &#39; in Slack; we escape Slack's way
        finalize=_finalize,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters.update(
        money=money_filter,
        pct=pct_filter,
        mrkdwn=mrkdwn_filter,
        signed=signed_filter,
        num=num_filter,
        mention=mention_filter,
    )
    return env


def render(template: str, /, **context: Any) -> Mrkdwn:
    """Render one template to mrkdwn, surrounding whitespace removed."""
    return Mrkdwn(environment().get_template(template).render(**context).strip())


def render_parts(template: str, /, **context: Any) -> list[Mrkdwn]:
    """Render a template whose parts (e.g. section fields) are separated by blank lines."""
    text = environment().get_template(template).render(**context)
    parts = [p.strip() for p in text.split("\n\n")]
    return [Mrkdwn(p) for p in parts if p]


def render_macro(template: str, macro: str, /, *args: Any, **kwargs: Any) -> Mrkdwn:
    """Call one macro of a template holding several short texts (e.g. fallbacks.md.j2)."""
    module = environment().get_template(template).module
    return Mrkdwn(str(getattr(module, macro)(*args, **kwargs)).strip())
