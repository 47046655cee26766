"""`saas-tracker revenue`, `segments` and `tiers`: the revenue lead's views in the terminal."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from typing import Any

import click

from cli import cli
from cli.common import get_config, get_session_factory, table_rows
from domain.formatting import format_money, format_percent
from domain.vocabulary import CELL_KEYS, CELL_LABELS, TIER_INPUTS

_DATE = click.DateTime(formats=["%Y-%m-%d"])


def _as_of(value: dt.datetime | None) -> dt.date:
    return value.date() if value else dt.datetime.now(dt.timezone.utc).date()


def _application(ctx: click.Context, name: str | None) -> str:
    return name or get_config(ctx).application


def _as_of_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--as-of", "as_of", type=_DATE, default=None, metavar="YYYY-MM-DD",
                        help="Day to report on (default today, UTC).")(f)


def _application_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--application", default=None,
                        help="Application to report on (default: the configured one).")(f)


def _table(headers: list[str], rows: list[list[str]], right: set[int]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    return [line(headers).rstrip(), *(line(r).rstrip() for r in rows)]


def _orgs(n: int) -> str:
    return f"{n} org" if n == 1 else f"{n} orgs"


def _num(value: float | None) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.2f}"


@cli.command("revenue")
@_as_of_option
@click.option("--by", type=click.Choice(["month", "week"]), default="month", show_default=True,
              help="Period of the MRR movements table.")
@click.option("--periods", type=click.IntRange(1, 120), default=6, show_default=True,
              help="How many periods the movements table shows, the last one ending at --as-of.")
@click.option("--top", type=click.IntRange(0, 500), default=10, show_default=True, help="Top revenue orgs to list.")
@_application_option
@click.pass_context
def revenue_cmd(ctx: click.Context, as_of: dt.datetime | None, by: str, periods: int, top: int,
                application: str | None) -> None:
    """MRR, ARR, NRR/GRR, MRR movements per period and the top revenue orgs.

    Movements compare each org's MRR at the start and end of each period: new,
    expansion, contraction, churned, reactivated, and net new MRR.

    \b
    Example:
      saas-tracker revenue --as-of 2026-03-31 --by month --periods 3 --top 5
    """
    from services.revenue import UnknownApplication, revenue_report

    cfg = get_config(ctx)
    day = _as_of(as_of)
    money = lambda v: format_money(v, cfg.currency_symbol)  # noqa: E731
    with get_session_factory(ctx)() as session:
        try:
            report = revenue_report(session, _application(ctx, application), day, by, periods, top)  # type: ignore[arg-type]
        except UnknownApplication as exc:
            raise click.ClickException(str(exc)) from exc
    ret = report.retention
    click.echo(f"Revenue as of {day}")
    click.echo(f"MRR {money(report.mrr)}   ARR {money(report.arr)}")
    if ret.nrr is None:
        click.echo(f"NRR / GRR: n/a (nobody was paying on {ret.start})")
    else:
        click.echo(f"NRR {format_percent(ret.nrr, signed=False)}   GRR {format_percent(ret.grr, signed=False)}"
                   f"   (orgs paying on {ret.start}: {money(ret.starting_mrr)} → {money(ret.ending_mrr)})")
    click.echo("")
    click.echo(f"MRR movements by {by}")
    m = report.movements
    rows = [
        [r.period, money(r.starting_mrr), money(r.new), money(r.expansion), money(-r.contraction) if r.contraction
         else money(0), money(-r.churned) if r.churned else money(0), money(r.reactivated),
         ("+" if r.net_new > 0 else "") + money(r.net_new), money(r.ending_mrr)]
        for r in table_rows(m, index=False)
    ]
    headers = ["period", "starting", "new", "expansion", "contraction", "churned", "reactivated", "net new", "ending"]
    for line in _table(headers, rows, right=set(range(1, 9))):
        click.echo(line)
    if top:
        click.echo("")
        click.echo(f"Top {top} orgs by MRR")
        if report.top.empty:
            click.echo("  no paying orgs")
        rows = [[f"{r.rank}.", r.name, r.org_id, money(r.mrr), money(r.arr), format_percent(r.share, signed=False)]
                for r in table_rows(report.top, index=False)]
        if rows:
            for line in _table(["#", "org", "id", "MRR", "ARR", "share"], rows, right={0, 3, 4, 5}):
                click.echo(line)


@cli.command("segments")
@_as_of_option
@click.option("--cell", type=click.Choice(CELL_KEYS), default=None,
              help="List the orgs of one cell instead of the grid.")
@_application_option
@click.pass_context
def segments_cmd(ctx: click.Context, as_of: dt.datetime | None, cell: str | None, application: str | None) -> None:
    """Revenue × Health: paying orgs in four cells, with org count and MRR.

    MRR is high at or above the median MRR of paying orgs (or segments.mrr_split_amount);
    health is high at or above segments.health_split (60).

    \b
    Examples:
      saas-tracker segments
      saas-tracker segments --cell revenue_at_risk
    """
    from services.revenue import UnknownApplication, cell_views, segments_report

    cfg = get_config(ctx)
    day = _as_of(as_of)
    money = lambda v: format_money(v, cfg.currency_symbol)  # noqa: E731
    with get_session_factory(ctx)() as session:
        try:
            report = segments_report(session, _application(ctx, application), day, cfg)
        except UnknownApplication as exc:
            raise click.ClickException(str(exc)) from exc
    split_text = f"{money(report.mrr_split)}" + (" (median of paying orgs)" if report.split_is_median else "")
    if cell:
        orgs = report.cells[report.cells["cell"] == cell].sort_values(["mrr", "name"], ascending=[False, True])
        click.echo(f"{CELL_LABELS[cell]}: {_orgs(len(orgs))}, {money(float(orgs['mrr'].sum()))} MRR (as of {day})")
        rows = [[str(r.name), str(r.Index), money(r.mrr), f"{r.health:.0f}"] for r in table_rows(orgs)]
        if rows:
            for line in _table(["org", "id", "MRR", "health"], rows, right={2, 3}):
                click.echo(line)
        return
    views = {v.key: v for v in cell_views(report.summary)}

    def box(key: str) -> str:
        v = views[key]
        return f"{v.label}: {_orgs(v.org_count)}, {money(v.mrr)}"

    low, high = f"health < {report.health_split:g}", f"health ≥ {report.health_split:g}"
    click.echo(f"Revenue × Health as of {day}; MRR split at {split_text}")
    rows = [["MRR high", box(CELL_KEYS[0]), box(CELL_KEYS[1])], ["MRR low", box(CELL_KEYS[2]), box(CELL_KEYS[3])]]
    for line in _table(["", low, high], rows, right=set()):
        click.echo(line)
    if report.unscored:
        click.echo(f"{_orgs(report.unscored)} paying but with no health score yet (run a scan): in no cell.")
    if report.not_active:
        click.echo(f"{_orgs(report.not_active)} paying but not active yet ({money(report.not_active_mrr)} MRR, "
                   "onboarding): in no cell.")


@cli.command("tiers")
@_as_of_option
@click.option("--mode", type=click.Choice(["balanced", "retention", "growth"]), default=None,
              help="Weighting of value against potential (default tiers.mode: balanced).")
@click.option("--top", type=click.IntRange(0, None), default=0, help="Show only the first N orgs (0: all).")
@_application_option
@click.pass_context
def tiers_cmd(ctx: click.Context, as_of: dt.datetime | None, mode: str | None, top: int,
              application: str | None) -> None:
    """Value × Potential: each org's value, potential, account priority, quadrant and tier.

    Account priority = value × w + potential × (1 − w); w is 0.5 balanced, 0.7 retention,
    0.3 growth. An input with no data counts as a typical account's (the median of the orgs
    that have it, or 50); "inputs" says how many of the eight each score rests on.

    \b
    Example:
      saas-tracker tiers --mode retention --top 20
    """
    from services.revenue import UnknownApplication, tiers_report

    cfg = get_config(ctx)
    day = _as_of(as_of)
    mode = mode or cfg.tiers.mode
    with get_session_factory(ctx)() as session:
        try:
            frame = tiers_report(session, _application(ctx, application), day, cfg, mode)
        except UnknownApplication as exc:
            raise click.ClickException(str(exc)) from exc
    if top:
        frame = frame.head(top)
    click.echo(f"Value × Potential as of {day}, {mode} mode (w = {cfg.tiers.mode_weight[mode]:g})")
    if frame.empty:
        click.echo("  no orgs")
        return
    rows = [
        [str(r.name), str(r.Index), format_money(r.mrr, cfg.currency_symbol), _num(r.value), _num(r.potential),
         _num(r.account_priority), r.quadrant or "–", r.tier or "–",
         f"{r.value_inputs + r.potential_inputs}/{len(TIER_INPUTS)}", ", ".join(r.inputs_left_out) or "–"]
        for r in table_rows(frame)
    ]
    headers = ["org", "id", "MRR", "value", "potential", "priority", "quadrant", "tier", "inputs", "left out"]
    for line in _table(headers, rows, right={2, 3, 4, 5, 8}):
        click.echo(line)

