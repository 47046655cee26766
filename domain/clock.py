"""Time as the product reads it: aware UTC instants everywhere inside, local time only at
the edges (the digest's schedule, what a person reads)."""

from __future__ import annotations

import datetime as dt


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def as_utc(moment: dt.datetime) -> dt.datetime:
    """An aware instant in UTC; a naive one is taken to be UTC already."""
    return moment.replace(tzinfo=dt.timezone.utc) if moment.tzinfo is None else moment.astimezone(dt.timezone.utc)
