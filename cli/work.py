"""`saas-tracker note`, `notes` and `assign`: the next step recorded where the team sees it."""

from __future__ import annotations

import click

from cli import cli
from cli.output import JSON, echo_json, format_option
from cli.scan import _actor, _no_data, _now, _resolve_org, _tracker


@cli.command()
@click.argument("org_name")
@click.argument("text", nargs=-1, required=True)
@click.option("--actor", help="Who writes the note (default cli:<login>), recorded with it and in the audit log.")
@click.pass_context
def note(ctx: click.Context, org_name: str, text: tuple[str, ...], actor: str | None) -> None:
    """Add a note to an org: what was done or agreed. Shown newest first in `org` and /org.

    \b
    Example:
      saas-tracker note initech "Called Dana (CFO): recovery plan agreed, review on 12 Dec"
      saas-tracker note globex Usage back after their re-org --actor ana@example.com
    """
    tracker = _tracker(ctx)
    org_id = _resolve_org(ctx, tracker, org_name)
    result = tracker.add_note(org_id, " ".join(text), _actor(actor), _now(), via="cli")
    if not result.changed:
        raise click.ClickException(result.message)
    click.echo(f"{org_id}: {result.message}")


@cli.command()
@click.argument("org_name")
@format_option(JSON)
@click.pass_context
def notes(ctx: click.Context, org_name: str, fmt: str) -> None:
    """Every note on an org, newest first, with who wrote it and when.

    \b
    Example:
      saas-tracker notes initech
    """
    from cli.terminal import render_notes
    from services.tracker import NoData

    tracker = _tracker(ctx)
    org_id = _resolve_org(ctx, tracker, org_name)
    try:
        found, _total = tracker.notes(org_id)
    except NoData:
        raise _no_data(ctx) from None
    if fmt == JSON:
        echo_json({"org_id": org_id, "notes": found})
    else:
        click.echo(render_notes(found, len(found)) if found else f"{org_id} has no notes yet: "
                   f"saas-tracker note {org_id} \"…\" adds one.")


@cli.command()
@click.argument("org_name")
@click.argument("owner", required=False)
@click.option("--imported", is_flag=True, help="Remove the assignment: the owner from the CSV import owns it again.")
@click.option("--actor", help="Who assigns (default cli:<login>), recorded in the audit log.")
@click.pass_context
def assign(ctx: click.Context, org_name: str, owner: str | None, imported: bool, actor: str | None) -> None:
    """Make OWNER (a Slack user id or an e-mail) the org's owning CSM.

    An assignment wins over the owner in orgs.csv and survives every later import;
    `/signals mine` and `signals --owner` follow it. --imported gives the org back to the
    imported owner.

    \b
    Example:
      saas-tracker assign initech ana@example.com
      saas-tracker assign initech U04ANA
      saas-tracker assign initech --imported
    """
    if imported == (owner is not None):
        raise click.UsageError("give an OWNER, or --imported to go back to the imported owner")
    tracker = _tracker(ctx)
    org_id = _resolve_org(ctx, tracker, org_name)
    result = tracker.assign_owner(org_id, None if imported else owner, _actor(actor), _now(), via="cli")
    click.echo(f"{org_id}: {result.message}")
