"""A one-line usage chart that survives any Slack client: eight Unicode block heights."""

from __future__ import annotations

import math
from collections.abc import Iterable

BARS = "▁▂▃▄▅▆▇█"


def sparkline(values: Iterable[float | int | None]) -> str:
    """Scale from zero (not from the minimum) to the peak, so steady high usage looks high
    and a drop to zero looks like one; missing or negative values count as zero."""
    clean = [0.0 if v is None or (isinstance(v, float) and math.isnan(v)) or v < 0 else float(v) for v in values]
    if not clean:
        return ""
    peak = max(clean)
    if peak == 0:
        return BARS[0] * len(clean)
    top = len(BARS) - 1
    return "".join(BARS[round(v / peak * top)] for v in clean)
