"""What every command needs: the configuration and a database session factory."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import click

from domain.config import Config, Secrets, load_config

if TYPE_CHECKING:  # the database libraries load only for commands that use them
    import pandas as pd
    from sqlalchemy.orm import Session, sessionmaker


def get_config(ctx: click.Context) -> Config:
    obj = ctx.find_root().obj or {}
    if "config" not in obj:
        obj["config"] = load_config(obj.get("config_path"))
    return obj["config"]


def get_session_factory(ctx: click.Context) -> sessionmaker[Session]:
    obj = ctx.find_root().obj or {}
    if "session_factory" not in obj:
        from storage.db import DatabaseUnusable, open_database

        try:
            obj["session_factory"] = open_database(Secrets.from_env().database_url)
        except DatabaseUnusable as exc:
            raise click.ClickException(str(exc)) from None
    return obj["session_factory"]


class LazySessionFactory:
    """A session factory that opens the database on first use: `serve` builds the Slack app
    (which checks Slack) before it touches the database, and migrates in between."""

    def __init__(self, ctx: click.Context) -> None:
        self._ctx = ctx
        self._factory: sessionmaker[Session] | None = None

    def __call__(self, **kwargs: object) -> Session:
        if self._factory is None:
            self._factory = get_session_factory(self._ctx)
        return self._factory(**kwargs)


def table_rows(frame: pd.DataFrame, *, index: bool = True) -> Iterator[Any]:
    """``frame.itertuples(index=index)``, its fields typed loosely: each table has its own columns."""
    return frame.itertuples(index=index)
