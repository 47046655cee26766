"""Which playbooks an org's page shows: its case's (what to do) and its open signals' (how to
read them). The text is configuration (``[playbooks]``, defaults in ``domain.config``)."""

from __future__ import annotations

from domain.config import Config, Playbook
from services.read_models import OrgItem, PlaybookView


def _view(kind: str, key: str, book: Playbook) -> PlaybookView:
    return PlaybookView(kind=kind, key=key, title=book.title, read=book.read, steps=tuple(book.steps))


def effective_case(item: OrgItem) -> str | None:
    """A person's tag, else the suggestion: the case the team works."""
    return item.case_type or item.case_suggested


def playbooks_for(item: OrgItem, cfg: Config) -> tuple[PlaybookView, ...]:
    """The case's playbook first (when there is a case), then one per open signal type, in
    the item's signal order (highest priority first), each type once."""
    views: list[PlaybookView] = []
    case = effective_case(item)
    book = cfg.playbooks.for_case(case)
    if case and book is not None:
        views.append(_view("case", case, book))
    seen: set[str] = set()
    for signal in item.signals:
        if signal.type in seen:
            continue
        seen.add(signal.type)
        book = cfg.playbooks.for_signal(signal.type)
        if book is not None:
            views.append(_view("signal", signal.type, book))
    return tuple(views)


def next_step(item: OrgItem, cfg: Config) -> str | None:
    """The first step of the case's playbook: the one line a list item shows."""
    book = cfg.playbooks.for_case(effective_case(item))
    return book.next_step if book is not None else None
