"""Machine-readable output for scripts and spreadsheets: ``--format json`` and ``--format csv``.

Read models are dataclasses; they become JSON through ``jsonable`` (dates as ISO 8601, a
missing number as null, never NaN, which JSON has no word for). A table becomes CSV with a
header row, one row per line, written by the csv module so commas and quotes in org names
stay safe.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import json
import math
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

import click

TEXT, JSON, CSV = "text", "json", "csv"


def format_option(*choices: str) -> Callable[[Any], Any]:
    """``--format`` with the given choices, text first (the default)."""
    return click.option("--format", "fmt", type=click.Choice([TEXT, *choices]), default=TEXT, show_default=True,
                        help="Output: readable text, or " + " / ".join(choices) + " for scripts and spreadsheets.")


def jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if hasattr(value, "to_dict") and hasattr(value, "columns"):  # a pandas DataFrame: its rows
        return [jsonable(row) for row in value.to_dict("records")]
    if hasattr(value, "to_dict") and hasattr(value, "index"):  # a pandas Series: index → value
        return jsonable(value.to_dict())
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return jsonable(value.item())
    if value is not None and not isinstance(value, (str, int, float, bool)):
        try:
            if value != value:  # NaT, NA
                return None
        except TypeError:
            return None
        return str(value)
    return value


def echo_json(data: Any) -> None:
    click.echo(json.dumps(jsonable(data), indent=2, ensure_ascii=False))


def echo_csv(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _cell(row.get(k)) for k in columns})
    click.echo(buffer.getvalue(), nl=False)


def _cell(value: Any) -> Any:
    value = jsonable(value)
    if isinstance(value, list):
        return ";".join(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return "" if value is None else value


def write_charts(directory: Any, charts: Sequence[tuple[str, bytes]], *, err: bool = False) -> None:
    """Write (file name, PNG bytes) charts into `directory` (created when missing), one line
    each saying where (on stderr with `err`, so JSON on stdout stays clean)."""
    from pathlib import Path

    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    if not charts:
        click.echo(f"no chart to write to {target}: no data to draw yet", err=err)
    for name, png in charts:
        path = target / name
        path.write_bytes(png)
        click.echo(f"chart written to {path}", err=err)
