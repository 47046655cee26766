"""`saas-tracker db`: schema migrations."""

from __future__ import annotations

import click

from cli import cli
from domain.config import Secrets


@cli.group()
def db() -> None:
    """Database schema (Alembic migrations). DATABASE_URL picks the database.

    \b
    Example:
      DATABASE_URL=sqlite:///saas-tracker.db saas-tracker db upgrade
    """


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Target revision.")
def db_upgrade(revision: str) -> None:
    """Create or upgrade the schema; safe to run on every deploy.

    \b
    Example:
      DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1/saas saas-tracker db upgrade
    """
    from storage import migrate

    url = Secrets.from_env().database_url
    migrate.upgrade(url, revision)
    click.echo(f"schema at {migrate.current_revision(url)} ({url.split('@')[-1]})")
