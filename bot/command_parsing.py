"""Parsing `/signals` arguments into a filter: pure, so every phrase is unit-tested.

Grammar (words in any order, case-insensitive):

* ``top N`` or a bare ``N`` — how many orgs (default and maximum from config.slack)
* ``risk`` ``drop`` ``inactive`` ``expansion`` — signal types (several allowed: any of them)
* ``case:risk`` ``case:expansion`` ``onboarding`` — case type (tag, or suggestion until tagged);
  ``risk`` and ``expansion`` alone mean the *signal* types, so case types take the ``case:``
  prefix, except ``onboarding`` which is only a case
* ``mine`` — orgs whose owner is the caller
* ``champions`` ``watch`` ``cell:at-risk`` ``cell:expansion`` — a Revenue × Health cell
* ``tier1`` … ``tier4`` (or ``tier 2``) — an account tier
* ``help`` — the help text

Anything else is reported back as not understood, with the help text, and nothing runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from domain.config import Config
from domain.vocabulary import CASE_TYPES, SIGNAL_SHORT_NAMES

CELL_WORDS = {
    "champions": "champions",
    "watch": "watch",
    "cell:champions": "champions",
    "cell:watch": "watch",
    "cell:at-risk": "revenue_at_risk",
    "cell:risk": "revenue_at_risk",
    "cell:revenue_at_risk": "revenue_at_risk",
    "cell:expansion": "expansion",
}
TIER_WORDS = {f"tier{n}": f"Tier {n}" for n in range(1, 5)} | {f"tier:{n}": f"Tier {n}" for n in range(1, 5)}


@dataclass(frozen=True)
class SignalsQuery:
    top: int
    types: frozenset[str] = frozenset()
    case_types: frozenset[str] = frozenset()
    mine: bool = False
    cell: str | None = None
    tier: str | None = None
    help: bool = False
    not_understood: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return not self.help and not self.not_understood

    def describe(self) -> str:
        """The filter in words, shown above the list so a person sees what they asked for."""
        parts = [f"top {self.top}"]
        labels = {v: k for k, v in SIGNAL_SHORT_NAMES.items()}
        parts += sorted(labels[t] for t in self.types)
        parts += [f"case:{c}" for c in sorted(self.case_types)]
        if self.mine:
            parts.append("mine")
        if self.cell:
            parts.append(f"cell:{self.cell}")
        if self.tier:
            parts.append(self.tier.lower().replace(" ", ""))
        return " · ".join(parts)


def parse_signals_args(text: str, cfg: Config) -> SignalsQuery:
    words = text.lower().replace(",", " ").split()
    top = cfg.slack.signals_default_top
    types: set[str] = set()
    cases: set[str] = set()
    mine = False
    cell = tier = None
    unknown: list[str] = []
    i = 0
    while i < len(words):
        w = words[i]
        nxt = words[i + 1] if i + 1 < len(words) else None
        if w == "help":
            return SignalsQuery(top=top, help=True)
        if w == "top" and nxt is not None and nxt.isdigit():
            n, i = int(nxt), i + 2
        elif w.isdigit():
            n, i = int(w), i + 1
        else:
            n = None
        if n is not None:
            if 1 <= n <= cfg.slack.signals_max_top:
                top = n
            else:
                unknown.append(f"top {n} (choose 1-{cfg.slack.signals_max_top})")
            continue
        i += 1
        if w in SIGNAL_SHORT_NAMES:
            types.add(SIGNAL_SHORT_NAMES[w])
        elif w.startswith("case:") and w[5:] in CASE_TYPES:
            cases.add(w[5:])
        elif w == "onboarding":
            cases.add("onboarding")
        elif w == "case" and nxt in CASE_TYPES:
            cases.add(nxt)
            i += 1
        elif w == "mine":
            mine = True
        elif w in CELL_WORDS:
            cell = CELL_WORDS[w]
        elif w in TIER_WORDS:
            tier = TIER_WORDS[w]
        elif w == "tier" and nxt in {"1", "2", "3", "4"}:
            tier = f"Tier {nxt}"
            i += 1
        else:
            unknown.append(w)
    return SignalsQuery(top=top, types=frozenset(types), case_types=frozenset(cases), mine=mine,
                        cell=cell, tier=tier, not_understood=tuple(unknown))
