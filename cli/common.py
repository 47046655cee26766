"""What every command needs: the configuration and a database session factory."""

from __future__ import annotations

import click
from sqlalchemy.orm import Session, sessionmaker

from domain.config import Config, Secrets, load_config
from storage.db import make_engine, make_session_factory


def get_config(ctx: click.Context) -> Config:
    obj = ctx.find_root().obj or {}
    if "config" not in obj:
        obj["config"] = load_config(obj.get("config_path"))
    return obj["config"]


def get_session_factory(ctx: click.Context) -> sessionmaker[Session]:
    obj = ctx.find_root().obj or {}
    if "session_factory" not in obj:
        obj["session_factory"] = make_session_factory(make_engine(Secrets.from_env().database_url))
    return obj["session_factory"]
