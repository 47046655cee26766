"""An org's 12-week health and usage chart, drawn from its OrgDetail and uploaded to Slack
for `/org` and the org modal; `saas-tracker org --chart DIR` writes the same PNG.

The chart is an extra on top of the text (the usage sparkline and the weekly health line
say the same in words): when charts are off (``slack.charts``), the org has no history yet,
or the upload fails (no files:write scope, Slack down), the message goes out without it and
``bot.chart_upload`` logs the failure.

It never delays the answer: drawing a PNG takes 0.2-0.8 s of matplotlib, more than the
whole text answer, so a reply whose chart is not in Slack yet goes out without it and is
replaced by the same reply with the chart once it is drawn and uploaded
(``answer_then_add_chart``). A chart already uploaded for the same numbers is in the first
answer.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from typing import Any

from collections.abc import Callable

from bot.chart_upload import ChartUploads, UploadedFile
from domain.config import Config
from services.read_models import OrgDetail

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def chart_title(detail: OrgDetail) -> str:
    return f"{detail.item.name}: health and weekly usage, last {len(detail.week_ends)} weeks"


def alt_text(detail: OrgDetail) -> str:
    """What the chart shows, for screen readers and for clients that don't show images."""
    known = [h for h in detail.health_weeks if h is not None]
    health = (f"health {known[0]:.0f} → {known[-1]:.0f}" if len(known) > 1
              else f"health {known[0]:.0f}" if known else "no health score yet")
    events = detail.usage_weeks
    usage = f"events per week {events[0]:,} → {events[-1]:,}" if events else "no usage"
    return f"{detail.item.name}, last {len(detail.week_ends)} weeks: {health}; {usage}"


def filename(detail: OrgDetail) -> str:
    safe = _UNSAFE.sub("-", detail.item.org_id).strip("-")[:80] or "org"
    return f"{safe}-12-weeks.png"


def org_chart_png(detail: OrgDetail) -> bytes | None:
    """The PNG, or None when there is nothing to draw (no weeks)."""
    from bot.charts import org_trend_png  # matplotlib: loaded when a chart is drawn

    if not detail.week_ends or len(detail.usage_weeks) != len(detail.week_ends):
        return None
    health = detail.health_weeks or (None,) * len(detail.week_ends)
    return org_trend_png(list(detail.week_ends), list(health), list(detail.usage_weeks), title=chart_title(detail))


def warm_up() -> None:
    """Load matplotlib now (about a second on a busy machine) rather than in the first `/org`
    after start: the Slack app calls this when it is built, if charts are on."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: F401
    from matplotlib.figure import Figure  # noqa: F401


def chart_key(detail: OrgDetail) -> tuple[Any, ...]:
    """Everything the picture is drawn from: the same key, the same PNG."""
    return (detail.item.org_id, chart_title(detail), tuple(detail.week_ends), tuple(detail.health_weeks),
            tuple(detail.usage_weeks))


class OrgCharts:
    """Draws and uploads org charts for the Slack app, each PNG once (``ChartUploads``).

    Drawing takes 0.2-0.8 s of matplotlib; the numbers behind a chart change only with a
    scan or an import, so the last ``DRAWN_KEPT`` pictures are kept by what they were drawn
    from and a repeated `/org` or modal skips the drawing as well as the upload."""

    DRAWN_KEPT = 256

    def __init__(self, cfg: Config, uploads: ChartUploads | None = None) -> None:
        self.cfg = cfg
        self.uploads = uploads or ChartUploads()
        self._drawn: OrderedDict[tuple[Any, ...], bytes | None] = OrderedDict()
        self._uploaded: OrderedDict[tuple[Any, ...], UploadedFile] = OrderedDict()
        self._lock = threading.Lock()
        if cfg.slack.charts:
            warm_up()

    def png(self, detail: OrgDetail) -> bytes | None:
        """The org's chart, drawn once per set of numbers."""
        key = chart_key(detail)
        with self._lock:
            if key in self._drawn:
                self._drawn.move_to_end(key)
                return self._drawn[key]
        png = org_chart_png(detail)
        with self._lock:
            self._drawn[key] = png
            while len(self._drawn) > self.DRAWN_KEPT:
                self._drawn.popitem(last=False)
        return png

    def known(self, detail: OrgDetail | None) -> UploadedFile | None:
        """The chart already in Slack for exactly these numbers, without drawing or uploading."""
        if detail is None or not self.cfg.slack.charts:
            return None
        key = chart_key(detail)
        with self._lock:
            uploaded = self._uploaded.get(key)
            if uploaded is not None:
                self._uploaded.move_to_end(key)
            return uploaded

    def upload(self, client: Any, detail: OrgDetail | None) -> UploadedFile | None:
        """The org's chart in Slack: drawn and uploaded unless it already is."""
        if detail is None or not self.cfg.slack.charts or client is None:
            return None
        known = self.known(detail)
        if known is not None:
            return known
        png = self.png(detail)
        if png is None:
            return None
        uploaded = self.uploads.upload(client, png, filename=filename(detail), title=chart_title(detail),
                                       alt_text=alt_text(detail))
        if uploaded is not None:
            with self._lock:
                self._uploaded[chart_key(detail)] = uploaded
                while len(self._uploaded) > self.DRAWN_KEPT:
                    self._uploaded.popitem(last=False)
        return uploaded

    def answer_then_add_chart(self, client: Any, detail: OrgDetail,
                              send: Callable[[UploadedFile | None, bool], Any]) -> None:
        """Answer at once, with the chart when it is already in Slack; otherwise answer
        without it, then draw and upload it and send the answer again with it.

        ``send(chart, again)`` sends the message built with ``chart``; ``again`` is True for the
        second sending, which must replace the first (replace_original, views.update)."""
        chart = self.known(detail)
        send(chart, False)
        if chart is not None or client is None or not self.cfg.slack.charts:
            return
        chart = self.upload(client, detail)
        if chart is not None:
            send(chart, True)
