"""`saas-tracker backtest` and `calibrate`: does the ranking predict churn on our own history,
and which health weights would have predicted it better?"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from cli import cli
from cli.common import get_config, get_session_factory
from cli.output import JSON, echo_json, format_option

if TYPE_CHECKING:
    from services.backtest import BacktestPlan

_DATE = click.DateTime(formats=["%Y-%m-%d"])


class Days(click.ParamType):
    """A number of days: `7d`, `7` or `2w`."""

    name = "days"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        match = re.fullmatch(r"\s*(\d+)\s*([dw]?)\s*", str(value))
        if not match or int(match.group(1)) < 1:
            self.fail(f"{value!r} is not a number of days such as 7d, 60d or 2w", param, ctx)
        return int(match.group(1)) * (7 if match.group(2) == "w" else 1)


def _period_options(f: Callable[..., Any]) -> Callable[..., Any]:
    f = click.option("--horizon", type=Days(), default=None,
                     help="How long after each as-of day to look for the outcome (default 60d).")(f)
    f = click.option("--every", type=Days(), default=None, help="Days between as-of days (default 7d).")(f)
    f = click.option("--end", type=_DATE, default=None, metavar="YYYY-MM-DD",
                     help="Last as-of day (default: the latest whose horizon the data covers).")(f)
    f = click.option("--start", type=_DATE, default=None, metavar="YYYY-MM-DD",
                     help="First as-of day (default: 28 days into the usage history).")(f)
    return f


def _plan(ctx: click.Context, start: dt.datetime | None, end: dt.datetime | None, every: int | None,
          horizon: int | None) -> BacktestPlan:
    from services.backtest import BacktestRangeError, plan_backtest

    cfg = get_config(ctx)
    try:
        return plan_backtest(get_session_factory(ctx), cfg, start=start.date() if start else None,
                             end=end.date() if end else None, every_days=every or cfg.backtest.every_days,
                             horizon_days=horizon or cfg.backtest.horizon_days)
    except BacktestRangeError as exc:
        raise click.ClickException(str(exc)) from None


@cli.command()
@_period_options
@click.option("--html", "html_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write a self-contained HTML report (charts embedded, opens offline).")
@format_option(JSON)
@click.pass_context
def backtest(ctx: click.Context, start: dt.datetime | None, end: dt.datetime | None, every: int | None,
             horizon: int | None, html_path: Path | None, fmt: str) -> None:
    """How well health, priority, each signal and the weekly top list predicted churn,
    contraction and expansion on this database's own history, beside naive baselines.

    Every as-of day is scored point in time: only what was known by the end of that day
    counts (usage rolled up to it, subscriptions by their dates, tickets and surveys before
    it). Nothing is written: safe against the production database while the bot serves.

    \b
    Example:
      saas-tracker backtest
      saas-tracker backtest --start 2026-01-05 --end 2026-06-29 --every 7d --horizon 60d --html backtest.html
    """
    from cli.backtest_report import render_backtest_html, render_backtest_text
    from scoring.evaluation import NotEnoughEvidence
    from services.backtest import BacktestRangeError, run_backtest

    cfg = get_config(ctx)
    plan = _plan(ctx, start, end, every, horizon)
    try:
        result = run_backtest(get_session_factory(ctx), cfg, plan,
                              expansion_threshold=cfg.backtest.expansion_threshold,
                              min_churns=cfg.backtest.min_churns)
    except (BacktestRangeError, NotEnoughEvidence) as exc:
        raise click.ClickException(str(exc)) from None
    if fmt == JSON:
        echo_json({"plan": plan, "result": result})
    else:
        click.echo(render_backtest_text(result, currency_symbol=cfg.currency_symbol))
    if html_path is not None:
        html_path.write_text(render_backtest_html(result, currency_symbol=cfg.currency_symbol), encoding="utf-8")
        click.echo(f"HTML report written to {html_path}", err=fmt == JSON)


@cli.command()
@_period_options
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the suggested [health.weights] block to this new file (never overwritten).")
@click.pass_context
def calibrate(ctx: click.Context, start: dt.datetime | None, end: dt.datetime | None, every: int | None,
              horizon: int | None, out_path: Path | None) -> None:
    """Fit the health component weights on the earlier part of the history and check them on
    the later part, a horizon apart; print the suggested [health.weights] block.

    The configuration is never changed: paste the block into saas-tracker.toml when the
    held-out figures say it helps.

    \b
    Example:
      saas-tracker calibrate
      saas-tracker calibrate --horizon 30d --out suggested-weights.toml
    """
    from cli.calibration_report import render_calibration_text
    from scoring.calibration import weights_toml_block
    from scoring.evaluation import NotEnoughEvidence
    from services.backtest import BacktestRangeError, run_calibration

    if out_path is not None and out_path.exists():
        raise click.ClickException(f"{out_path} exists already: --out writes a new file, give another name")
    cfg = get_config(ctx)
    plan = _plan(ctx, start, end, every, horizon)
    try:
        result = run_calibration(get_session_factory(ctx), cfg, plan)
    except (BacktestRangeError, NotEnoughEvidence) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(render_calibration_text(result))
    if out_path is not None:
        out_path.write_text(weights_toml_block(result.suggested_weights), encoding="utf-8")
        click.echo(f"suggested weights written to {out_path}")
