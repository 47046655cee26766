"""`/signals` and `/org`: a dispatch table of commands. Every answer is ephemeral and goes
to the command's response_url after the acknowledgement. `/org` also shows the org's 12-week
chart (drawn and uploaded once per picture, ``bot.org_charts``): when it is not in Slack yet,
the text answers first and the same reply with the chart replaces it a moment later; without
it (charts off, no history, a failed upload) the reply is the same minus the image."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.chart_upload import UploadedFile
from bot.command_parsing import parse_signals_args
from bot.directory import SlackDirectory
from bot.messages import (
    error_message,
    help_message,
    org_choices_message,
    org_detail_message,
    org_not_found_message,
    signals_list_message,
)
from bot.org_charts import OrgCharts
from bot.replies import Respond, ephemeral, respond_with_chart
from bot.requests import CommandRequest
from services.signal_list import SignalFilter
from services.tracker import Tracker

NOBODY = frozenset({"<nobody>"})  # an owner no org has: "mine" matching nobody lists nothing
ORG_GONE = "That org no longer exists."


class Commands:
    def __init__(self, tracker: Tracker, directory: SlackDirectory, charts: OrgCharts | None = None) -> None:
        self.tracker = tracker
        self.directory = directory
        self.charts = charts or OrgCharts(tracker.cfg)
        self.table: dict[str, Callable[[str, str, Respond, Any], None]] = {"/signals": self.signals, "/org": self.org}

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.table)

    def run(self, command: CommandRequest, client: Any, respond: Respond) -> None:
        self.run_line(command.line, command.user_id, respond, client)

    def run_line(self, line: str, user_id: str, respond: Respond, client: Any = None) -> None:
        """Run "/signals top 5 risk" or "/org acme" as if typed (a click rebuilding its reply)."""
        name, _, text = line.strip().partition(" ")
        run = self.table.get(name)
        if run is None:
            respond(**ephemeral(help_message(name, cfg=self.tracker.cfg)))
            return
        run(text.strip(), user_id, respond, client)

    def signals(self, text: str, user_id: str, respond: Respond, client: Any = None) -> None:
        cfg = self.tracker.cfg
        query = parse_signals_args(text, cfg)
        if not query.ok:
            unparsed = ", ".join(query.not_understood) if query.not_understood else None
            respond(**ephemeral(help_message(unparsed, cfg=cfg)))
            return
        now = self.tracker.now()
        owners: frozenset[str] = frozenset()
        if query.mine:
            # Three steps, no database session held while Slack is asked who the person is.
            owners = self.directory.owners_of(user_id, self.tracker.owners()) or NOBODY
        flt = SignalFilter(top=query.top, types=query.types, case_types=query.case_types, owners=owners,
                           cell=query.cell, tier=query.tier)
        result = self.tracker.signals(flt, now)
        title = "My orgs' signals" if query.mine else "Top signals"
        message = signals_list_message(result.cards, result.items, now, cfg, title=title,
                                       filters_text=_filters_text(query.describe(), result.total, len(result.items)),
                                       query=f"/signals {text}".strip())
        respond(**ephemeral(message))

    def org(self, text: str, user_id: str, respond: Respond, client: Any = None) -> None:
        cfg = self.tracker.cfg
        query = text.strip()
        if not query or query.lower() == "help":
            respond(**ephemeral(help_message(None, cfg=cfg)))
            return
        found = self.tracker.find_orgs(query)
        if not found.matches:
            respond(**ephemeral(org_not_found_message(query, found.closest)))
            return
        if len(found.matches) > 1:
            candidates = [(m.org_id, m.name, m.domain) for m in found.matches]
            respond(**ephemeral(org_choices_message(query, candidates, total=found.total)))
            return
        now = self.tracker.now()
        detail = self.tracker.org_detail(found.matches[0].org_id, now)
        if detail is None:  # deleted between the lookup and the read
            respond(**error_message(ORG_GONE))
            return

        def send(chart: UploadedFile | None, again: bool) -> None:
            message = ephemeral(org_detail_message(detail, now, cfg, query=f"/org {query}", chart=chart))
            respond_with_chart(respond, {**message, "replace_original": True} if again else message)

        self.charts.answer_then_add_chart(client, detail, send)


def _filters_text(described: str, total: int, shown: int) -> str:
    if total > shown:
        return f"{described} · showing {shown} of {total} orgs"
    return described
