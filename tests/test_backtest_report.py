"""Backtest report: the HTML is one well-formed offline page carrying the figures worked out
in tests/test_evaluation.py; the text version lines its tables up."""

from __future__ import annotations

import dataclasses
import itertools
import math
import re
from html.parser import HTMLParser

import pandas as pd
import pytest
from backtest_history import history_frames

from cli.backtest_report import (
    Bar,
    fmt_count,
    render_backtest_html,
    render_backtest_text,
    svg_bar_chart,
    text_table,
    verdict_lines,
)
from scoring.evaluation import backtest, label_outcomes, open_signals_from_episodes

VOID = {"meta", "br", "hr", "img", "input", "link"}


class Page(HTMLParser):
    """Collects text and checks that every element is closed in order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.counts: dict[str, int] = {}
        self.text: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.counts[tag] = self.counts.get(tag, 0) + 1
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.counts[tag] = self.counts.get(tag, 0) + 1

    def handle_endtag(self, tag):
        if not self.stack or self.stack.pop() != tag:
            self.errors.append(f"unexpected </{tag}>")

    def handle_data(self, data):
        self.text.append(data)


def parse(document: str) -> Page:
    page = Page()
    page.feed(document)
    page.close()
    assert page.errors == [] and page.stack == []
    return page


def _result(min_churns: int = 3, top_k: int = 2):
    obs, changes, episodes = history_frames()
    outcomes = label_outcomes(obs, changes, horizon_days=60)
    return backtest(
        obs,
        outcomes,
        open_signals_from_episodes(obs, episodes),
        horizon_days=60,
        top_k=top_k,
        min_churns=min_churns,
        draws=300,
    )


@pytest.fixture(scope="module")
def result():
    return _result()


def test_html_is_well_formed_offline_and_carries_the_figures(result):
    document = render_backtest_html(result, generated_at="2024-03-09 10:00")
    assert document.startswith("<!DOCTYPE html>")
    page = parse(document)
    text = " ".join(page.text)
    assert "http://" not in document and "https://" not in document
    assert "<script" not in document and "<link" not in document
    assert page.counts["svg"] == 3 and page.counts["table"] == 3
    # Period and counts; model AUC 0.825 and the baselines 0.9 and 0.75 (two decimals).
    assert (
        "2024-01-01 to 2024-01-08, 2 as-of dates, outcomes over 60 days: 18 observations, 8 churned, "
        "4 churn events." in text
    )
    assert re.search(r"Health score\s+0\.82 \(0\.\d\d to 0\.\d\d\)", text)
    assert re.search(r"MRR alone\s+0\.90 \(", text) and re.search(r"Days since seen alone\s+0\.75 \(", text)
    # Gains over the baselines: 0.825 − 0.9 = −0.075000…07 → "-0.08"; 0.825 − 0.75 = 0.074999…96 → "+0.07".
    assert re.search(r"MRR alone\s+0\.90 \(0\.\d\d to \d\.\d\d\)\s+-0\.08 \(-0\.\d\d to \+0\.\d\d\)", text)
    assert re.search(r"Days since seen alone\s+0\.75 \(0\.\d\d to 0\.\d\d\)\s+\+0\.07 \(", text)
    assert "2.25×" in text  # lift
    assert "75.0 % (3/4)" in text and "100.0 % (4/4)" in text and "50.0 % (2/4)" in text  # top-2 lists
    assert "92.0 % ($2,300 of $2,500)" in text  # MRR caught
    assert "37.5 d" in text and "60.0 %" in text and "30.0 %" in text  # revenue at risk
    assert "43 d" in text and "66.7 %" in text  # expansion candidate
    assert "wrong way" in text and "points the right way" in text and "never present in the period" in text
    assert "Generated 2024-03-09 10:00" in text
    # Chart values: top decile 100 %, red band 75 %, activity 0.82.
    assert "100.0 %" in text and "75.0 %" in text and "red (8)" in text


def test_html_escapes_every_text(result):
    components = result.components.assign(
        component=["<b>act&ivity</b>"] + list(result.components["component"][1:])
    )
    odd = dataclasses.replace(result, components=components)
    document = render_backtest_html(odd, title='Q1 <script>alert("x")</script>', currency_symbol="€")
    assert "<script" not in document and "<b>" not in document
    assert "&lt;b&gt;act&amp;ivity&lt;/b&gt;" in document
    assert "Q1 &lt;script&gt;" in document
    assert "92.0 % (€2,300 of €2,500)" in " ".join(parse(document).text)


def test_figures_not_reported_say_why():
    few = _result(min_churns=5, top_k=10)
    text = render_backtest_text(few)
    assert "— (only 4 churns; at least 5 are needed)" in text
    assert "Health score vs MRR alone: not enough churns to compare." in text
    html_text = " ".join(parse(render_backtest_html(few)).text)
    assert "— (only 4 churns; at least 5 are needed)" in html_text
    # Top 10 lists every open signal: 8 hits in 11 places.
    assert "72.7 % (8/11)" in text


def test_text_report_tables_line_up(result):
    text = render_backtest_text(result)
    lines = text.splitlines()
    assert (
        "Revenue at risk                5                    3     60.0 %   30.0 %       37.5 d         2"
        in lines
    )
    assert (
        "Expansion candidate            3                    2     66.7 %  100.0 %         43 d         1"
        in lines
    )
    # In every table, no cell spills into the gap between two columns of the dashed rule, and
    # each cell touches its column's left edge (text) or right edge (numbers).
    rules = [i for i, line in enumerate(lines) if line and set(line) <= {"-", " "}]
    assert len(rules) == 5
    for r in rules:
        columns = [(m.start(), m.end()) for m in re.finditer(r"-+", lines[r])]
        block = [lines[r - 1]] + list(itertools.takewhile(bool, lines[r + 1 :]))
        for line in block:
            padded = line.ljust(columns[-1][1])
            for (_, end), (start, _) in zip(columns, columns[1:]):
                assert padded[end:start].strip() == "", line
            for start, end in columns:
                cell = padded[start:end]
                assert cell.strip() == "" or cell[0] != " " or cell[-1] != " ", line
    assert (
        "The health score is not clearly better than MRR alone (AUC difference -0.08, 95 % interval" in text
    )
    assert "Health score           0.82 (" in text  # the model's row, padded to the widest name


def test_text_table_exact():
    table = text_table(["Name", "N"], [["a", "1"], ["bbb", "22"]], numeric=(1,))
    assert table == "Name   N\n----  --\na      1\nbbb   22"


def test_verdicts_follow_the_gain_interval(result):
    sure = dataclasses.replace(
        result.rankings[1],
        model_gain=dataclasses.replace(result.rankings[1].model_gain, value=0.1, low=0.04, high=0.16),
    )
    worse = dataclasses.replace(
        result.rankings[2],
        model_gain=dataclasses.replace(result.rankings[2].model_gain, value=-0.1, low=-0.16, high=-0.04),
    )
    lines = verdict_lines(dataclasses.replace(result, rankings=(result.rankings[0], sure, worse)))
    assert lines == [
        "The health score ranks churn better than MRR alone (AUC difference +0.10, 95 % interval +0.04 to +0.16).",
        "Days since seen alone ranks churn better than the health score (AUC difference -0.10, 95 % interval "
        "-0.16 to -0.04).",
    ]


def test_svg_bars_scale_to_the_axis():
    svg = svg_bar_chart([Bar("a", 0.5), Bar("b", math.nan), Bar("c", 1.0)], "T", y_max=1.0, height=240)
    page = parse(svg)
    assert page.counts["rect"] == 2  # no bar for NaN
    heights = [float(h) for h in re.findall(r'<rect [^>]*height="([\d.]+)"', svg)]
    # Plot height 240 − 48 − 28 = 164: 0.5 → 82, 1.0 → 164.
    assert heights == [82.0, 164.0]
    assert "—" in " ".join(page.text)


def test_empty_bands_render(result):
    bands = pd.DataFrame(
        {
            "band": ["red", "yellow", "green"],
            "observations": [0, 0, 0],
            "churns": [0, 0, 0],
            "churn_rate": [math.nan] * 3,
        }
    )
    parse(render_backtest_html(dataclasses.replace(result, health_bands=bands)))


def test_counts_read_whole_despite_float_noise_and_keep_a_shared_tie_decimal() -> None:
    assert fmt_count(20030 / 10 * (1 + 1e-15)) == "2,003"
    assert fmt_count(2003.0000000004) == "2,003"
    assert fmt_count(237.7) == "237.7"
    assert fmt_count(12.0) == "12"
