"""The customer's mood over a session as a tiny SVG: anger (red) and trust (green) per turn.

Server-side and static: no script, every text escaped, so the console can inline it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

WIDTH = 160
HEIGHT = 40
PAD = 3
COLOURS = {"anger": "#c0392b", "trust": "#27ae60"}


def _points(values: Sequence[float], width: int, height: int) -> str:
    n = len(values)
    step = (width - 2 * PAD) / max(1, n - 1)
    pts = []
    for i, v in enumerate(values):
        x = PAD + i * step
        y = PAD + (1.0 - min(1.0, max(0.0, v))) * (height - 2 * PAD)
        pts.append(f"{x:.1f},{y:.1f}")
    return " ".join(pts)


def mood_svg(
    states: Sequence[Mapping[str, Any]], *, width: int = WIDTH, height: int = HEIGHT
) -> str:
    """An inline SVG sparkline of anger and trust over ``states`` (dicts with those keys,
    e.g. the start state followed by ``SessionResult.states``)."""
    rows = [s for s in states if "anger" in s and "trust" in s]
    label = "Customer mood: " + "; ".join(
        f"turn {i}: anger {float(s['anger']):.2f}, trust {float(s['trust']):.2f}"
        for i, s in enumerate(rows)
    )
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="mood" width="{int(width)}" '
        f'height="{int(height)}" viewBox="0 0 {int(width)} {int(height)}" role="img" '
        f'aria-label="{escape(label)}">',
        f"<title>{escape(label)}</title>",
        f'<rect x="0" y="0" width="{int(width)}" height="{int(height)}" fill="none" '
        'stroke="#ddd"/>',
    ]
    if rows:
        for key, colour in COLOURS.items():
            values = [float(s[key]) for s in rows]
            if len(values) == 1:
                values = values * 2
            parts.append(
                f'<polyline class="{key}" fill="none" stroke="{colour}" stroke-width="1.5" '
                f'points="{_points(values, int(width), int(height))}"/>'
            )
    parts.append("</svg>")
    return "".join(parts)
