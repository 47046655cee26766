"""The README's "Your data: CSV import" section says what the importer really does.

Its column tables are generated from ``storage.csv_contract`` by ``contract_markdown`` below
(``python tests/test_readme_import.py`` prints them), and the rejected-import example is the
CLI's real output for the files shown next to it; both are checked here, so a column added
to the contract or a changed message can't leave the README behind.
"""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from cli import cli
from storage import migrate
from storage.csv_contract import (
    CHOICE,
    COUNT,
    CURRENCY,
    DATE,
    MONEY,
    ORDERED_COLUMNS,
    SCORE,
    TABLES,
    TEXT,
    TIMESTAMP,
    ColumnSpec,
    TableSpec,
)
from storage.validation import MAX_COUNT, MAX_MONEY

README = Path(__file__).resolve().parents[1] / "README.md"

# Each column kind: (name in the tables, what it accepts), the legend under the tables.
_KINDS = {
    TEXT: ("text", "any text up to the length shown"),
    CHOICE: ("choice", "one of the values shown, in any case"),
    TIMESTAMP: ("timestamp", "ISO 8601 date or date-time: `2026-03-31`, `2026-03-31T09:30:00Z`, "
                             "`2026-03-31 09:30:00.5+02:00`; without an offset it is UTC; stored in UTC. "
                             "Other layouts (`31/03/2026`, `20260331`, `2026-03`) are rejected"),
    DATE: ("date", "ISO 8601 date `2026-03-31`; a date-time is accepted and taken as its UTC date"),
    MONEY: ("amount", f"a number from 0 to below {MAX_MONEY:,.0f}, digits and a decimal point (`1200.50`, "
                      "no currency sign or thousands separator), rounded half up to the cent"),
    COUNT: ("whole number", f"`3` or `3.0`, not `2.5`; 0 to {MAX_COUNT:,} unless the table shows a range or a minimum"),
    SCORE: ("number", "a decimal number in the range shown"),
    CURRENCY: ("currency", "a three-letter ISO 4217 code in any case, stored upper-case (`usd` → `USD`)"),
}


def _number(x: float | None) -> str:
    return "" if x is None else (str(int(x)) if float(x).is_integer() else str(x))


def _kind(col: ColumnSpec) -> str:
    if col.kind == SCORE and col.integer:
        return "whole number"
    return _KINDS[col.kind][0]


def _values(col: ColumnSpec) -> str:
    if col.kind == TEXT and col.max_len:
        return f"up to {col.max_len} characters"
    if col.kind == CHOICE:
        return ", ".join(f"`{c}`" for c in col.choices)
    if col.kind == SCORE:
        return f"{_number(col.lo)} to {_number(col.hi)}"
    if col.kind == COUNT and col.lo:
        return f"at least {_number(col.lo)}"
    return ""


def _empty(col: ColumnSpec) -> str:
    if col.required:
        return "rejected"
    if not col.stored:
        return "the import's application"
    if col.default is None:
        return "null (unknown)"
    if col.default == "":
        return "empty text"
    return f"`{col.default}`"


def _table(spec: TableSpec) -> str:
    names = " (or " + ", ".join(f"`{n}`" for n in spec.file_names[1:]) + ")" if len(spec.file_names) > 1 else ""
    lines = [
        f"**`{spec.file_names[0]}`**{names}",
        "",
        "| column | required | type | allowed | empty cell |",
        "|---|---|---|---|---|",
    ]
    for col in spec.columns:
        required = "**yes**" if col.required else "no"
        lines.append(f"| `{col.name}` | {required} | {_kind(col)} | {_values(col)} | {_empty(col)} |")
    rule = ORDERED_COLUMNS.get(spec.key)
    if rule:
        lines += ["", f"`{rule[0]}` must not be before `{rule[1]}`."]
    return "\n".join(lines)


def _legend() -> str:
    used = {col.kind for spec in TABLES for col in spec.columns}
    lines = ["| type | accepted values |", "|---|---|"]
    lines += [f"| {name} | {accepted} |" for kind, (name, accepted) in _KINDS.items() if kind in used]
    return "\n".join(lines)


def contract_markdown() -> str:
    """The README's column tables, one per file in import order, then the types legend."""
    return "\n\n".join([*(_table(spec) for spec in TABLES), _legend()]) + "\n"


def test_readme_column_tables_are_the_contract():
    text = README.read_text(encoding="utf-8")
    start = text.index("<!-- csv-contract:start -->\n") + len("<!-- csv-contract:start -->\n")
    end = text.index("<!-- csv-contract:end -->")
    assert text[start:end].strip() == contract_markdown().strip()


def test_readme_rejected_import_example_is_the_real_output(tmp_path, monkeypatch):
    """Writes the bad files the README shows, runs the command it shows, compares the output."""
    text = README.read_text(encoding="utf-8")
    start = text.index("## Your data: CSV import")
    section = text[start:text.index("\n## ", start)]
    files = dict(re.findall(r"```csv title=(\S+)\n(.*?)```", section, flags=re.S))
    assert set(files) == {"exports/orgs.csv", "exports/subscriptions.csv"}
    for name, body in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(body, encoding="utf-8")
    shown = re.search(r"```console\n\$ saas-tracker import exports\n(.*?)```", section, flags=re.S)
    assert shown is not None
    config = tmp_path / "saas-tracker.toml"
    config.write_text("")
    url = f"sqlite:///{tmp_path / 'readme.db'}"
    migrate.upgrade(url)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["--config", str(config), "import", "--quiet", "exports"],
                                env={"DATABASE_URL": url})
    assert result.exit_code == 1
    assert result.stderr == shown.group(1)


if __name__ == "__main__":
    print(contract_markdown(), end="")
