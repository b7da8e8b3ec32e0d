"""Charts drawn on the server as inline SVG, each with the table of the numbers it draws.

No JavaScript and no CDN: the console's Content-Security-Policy allows neither, and a report
saved to a file must open anywhere. Every chart is an ``<svg role="img">`` labelled by its
``<title>`` and ``<desc>``, each bar or point carries a ``<title>`` with its value, and the
figure puts the same numbers in a ``<table>`` beside it for screen readers and for copying.
Only presentation attributes are used (``fill``, ``font-size``): the console forbids inline
``style``. Every text that reaches the markup (a team name, an agent's display name, a rule id)
is escaped here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#6b6b6b")
TEXT = "#1d2430"
MUTED = "#5b6576"
GRID = "#d9dee6"
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"
WIDTH = 560
LABEL_W = 150  # left gutter of a bar chart (category names)
VALUE_W = 64  # right gutter (the value at the end of each bar)
BAR_H = 14
LABEL_CHARS = 22  # longer category names are cut (the table and the bar's title keep them)


def esc(x: object) -> str:
    return escape(str(x), quote=True)


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    values: tuple[float | None, ...]  # None: no figure (nothing to divide by)


@dataclass(frozen=True, slots=True)
class Chart:
    id: str  # a slug: element ids derive from it
    title: str
    caption: str  # what the chart shows, read out as its <desc>
    axis: str  # what the labels are (the table's first column)
    labels: tuple[str, ...]
    series: tuple[Series, ...]
    kind: str = "bar"  # bar | line
    percent: bool = False  # values are rates in [0, 1], shown as percentages
    unit: str = ""  # after each value (" min")

    def fmt(self, v: float | None) -> str:
        if v is None:
            return "—"
        if self.percent:
            return f"{v * 100:.1f}%"
        return f"{v:g}{self.unit}" if float(v).is_integer() else f"{v:.1f}{self.unit}"

    @property
    def empty(self) -> bool:
        return not self.labels or all(v is None for s in self.series for v in s.values)


def _open(c: Chart, height: int) -> str:
    desc = f"{c.caption} " + "; ".join(
        f"{label}: " + ", ".join(f"{s.name} {c.fmt(s.values[i])}" for s in c.series)
        for i, label in enumerate(c.labels)
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {WIDTH} {height}" '
        f'width="{WIDTH}" height="{height}" class="chart-svg" '
        f'aria-labelledby="chart-{esc(c.id)}-title chart-{esc(c.id)}-desc" '
        f'font-family="{FONT}" font-size="12" fill="{TEXT}">'
        f'<title id="chart-{esc(c.id)}-title">{esc(c.title)}</title>'
        f'<desc id="chart-{esc(c.id)}-desc">{esc(desc)}</desc>'
    )


def _legend(c: Chart, y: int, x0: int) -> tuple[str, int]:
    """One swatch and name per series, wrapped; returns the markup and the height used."""
    if len(c.series) < 2:
        return "", 0
    parts, x, row = [], x0, 0
    for i, s in enumerate(c.series):
        w = 22 + 7 * len(s.name)
        if x + w > WIDTH and x > x0:
            x, row = x0, row + 1
        yy = y + row * 18
        parts.append(
            f'<rect x="{x}" y="{yy}" width="12" height="12" fill="{PALETTE[i % len(PALETTE)]}"/>'
            f'<text x="{x + 16}" y="{yy + 10}">{esc(s.name)}</text>'
        )
        x += w
    return '<g class="legend">' + "".join(parts) + "</g>", (row + 1) * 18 + 6


def _empty(c: Chart) -> str:
    return (
        _open(c, 60)
        + f'<text x="{WIDTH // 2}" y="34" text-anchor="middle" fill="{MUTED}">'
        + "No data in this period</text></svg>"
    )


def _cut(label: str) -> str:
    return label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1] + "…"


def bar_svg(c: Chart) -> str:
    """Horizontal bars, one group per label, one bar per series."""
    if c.empty:
        return _empty(c)
    legend, top = _legend(c, 4, LABEL_W)
    top += 4
    group = len(c.series) * (BAR_H + 2) + 10
    height = top + group * len(c.labels) + 4
    values = [v for s in c.series for v in s.values if v is not None]
    top_value = 1.0 if c.percent else max(max(values), 1e-9)
    span = WIDTH - LABEL_W - VALUE_W
    out = [_open(c, height), legend]
    for i, label in enumerate(c.labels):
        y0 = top + i * group
        out.append(
            f'<text x="{LABEL_W - 8}" y="{y0 + group // 2}" text-anchor="end" '
            f'dominant-baseline="middle">{esc(_cut(label))}<title>{esc(label)}</title></text>'
        )
        for j, s in enumerate(c.series):
            v = s.values[i]
            y = y0 + 4 + j * (BAR_H + 2)
            w = 0.0 if v is None else max(0.0, v / top_value * span)
            text = f"{label} · {s.name}: {c.fmt(v)}"
            out.append(
                f'<rect x="{LABEL_W}" y="{y}" width="{w:.1f}" height="{BAR_H}" '
                f'fill="{PALETTE[j % len(PALETTE)]}"><title>{esc(text)}</title></rect>'
                f'<text x="{LABEL_W + w + 4:.1f}" y="{y + BAR_H - 3}" font-size="11" '
                f'fill="{MUTED}">{esc(c.fmt(v))}</text>'
            )
    out.append(
        f'<line x1="{LABEL_W}" y1="{top}" x2="{LABEL_W}" y2="{height - 4}" stroke="{GRID}"/>'
    )
    out.append("</svg>")
    return "".join(out)


def line_svg(c: Chart) -> str:
    """One line per series over the labels (weeks), with a point and its value at each."""
    if c.empty:
        return _empty(c)
    left, right, bottom = 44, 16, 34
    legend, top = _legend(c, 4, left)
    top += 8
    plot_h = 160
    height = top + plot_h + bottom
    values = [v for s in c.series for v in s.values if v is not None]
    top_value = 1.0 if c.percent else max(max(values), 1.0)
    n = len(c.labels)
    step = (WIDTH - left - right) / max(n - 1, 1)

    def x(i: int) -> float:
        return left + (i * step if n > 1 else (WIDTH - left - right) / 2)

    def y(v: float) -> float:
        return top + plot_h - v / top_value * plot_h

    out = [_open(c, height), legend]
    for frac in (0.0, 0.5, 1.0):
        yy = y(top_value * frac)
        out.append(
            f'<line x1="{left}" y1="{yy:.1f}" x2="{WIDTH - right}" y2="{yy:.1f}" stroke="{GRID}"/>'
            f'<text x="{left - 6}" y="{yy + 4:.1f}" text-anchor="end" font-size="11" '
            f'fill="{MUTED}">{esc(c.fmt(top_value * frac))}</text>'
        )
    for i, label in enumerate(c.labels):
        if n <= 8 or i % ((n + 7) // 8) == 0:
            out.append(
                f'<text x="{x(i):.1f}" y="{top + plot_h + 18}" text-anchor="middle" '
                f'font-size="11" fill="{MUTED}">{esc(label[5:] if len(label) == 10 else label)}'
                "</text>"
            )
    for j, s in enumerate(c.series):
        color = PALETTE[j % len(PALETTE)]
        pts = [(x(i), y(v)) for i, v in enumerate(s.values) if v is not None]
        out.append(
            f'<polyline fill="none" stroke="{color}" stroke-width="2" points="'
            + " ".join(f"{a:.1f},{b:.1f}" for a, b in pts)
            + '"/>'
        )
        for i, v in enumerate(s.values):
            if v is not None:
                text = f"{c.labels[i]} · {s.name}: {c.fmt(v)}"
                out.append(
                    f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="3.5" fill="{color}">'
                    f"<title>{esc(text)}</title></circle>"
                )
    out.append("</svg>")
    return "".join(out)


def svg(c: Chart) -> str:
    return line_svg(c) if c.kind == "line" else bar_svg(c)


def table_html(c: Chart) -> str:
    """The chart's numbers as a table (a caption names it for screen readers)."""
    head = "".join(f'<th scope="col">{esc(s.name)}</th>' for s in c.series)
    rows = "".join(
        f'<tr><th scope="row">{esc(label)}</th>'
        + "".join(f'<td class="num">{esc(c.fmt(s.values[i]))}</td>' for s in c.series)
        + "</tr>"
        for i, label in enumerate(c.labels)
    )
    if not rows:
        span = len(c.series) + 1
        rows = f'<tr><td colspan="{span}" class="muted">No data in this period</td></tr>'
    return (
        f'<table class="table chart-data" id="chart-{esc(c.id)}-data">'
        f"<caption>{esc(c.title)}: the numbers</caption>"
        f'<thead><tr><th scope="col">{esc(c.axis)}</th>{head}</tr></thead>'
        f"<tbody>{rows}</tbody></table>"
    )


def figure_html(c: Chart) -> str:
    """A ``<figure>``: the chart, and its data table beside it."""
    return (
        f'<figure class="chart" id="chart-{esc(c.id)}" data-chart="{esc(c.id)}">'
        f"<figcaption><strong>{esc(c.title)}</strong> "
        f'<span class="muted small">{esc(c.caption)}</span></figcaption>'
        f'<div class="chart-body"><div class="chart-drawing">{svg(c)}</div>'
        f"{table_html(c)}</div></figure>"
    )


def _pretty(name: str) -> str:
    return name.replace("_", " ")


def _bars(
    id: str,
    title: str,
    caption: str,
    axis: str,
    rows: Mapping[str, Mapping[str, Any]],
    series: Sequence[tuple[str, str]],
    *,
    label: Callable[[str], str] = str,
    percent: bool = False,
    unit: str = "",
) -> Chart:
    """A bar chart of ``rows`` (label -> figures), one series per (name, key of the figures)."""
    return Chart(
        id=id,
        title=title,
        caption=caption,
        axis=axis,
        labels=tuple(label(k) for k in rows),
        series=tuple(
            Series(name, tuple(_value(r.get(key)) for r in rows.values())) for name, key in series
        ),
        percent=percent,
        unit=unit,
    )


def _value(x: Any) -> float | None:
    return float(x) if isinstance(x, int | float) and not isinstance(x, bool) else None


def charts(report: Mapping[str, Any]) -> list[Chart]:
    """The report's charts, in the order the page shows them."""
    vol, sla, esc_ = report["volume"], report["sla"], report["escalations"]
    causes, arch = report["causes"], report["archetypes"]
    durations = {"First response": report["first_response"], "Resolution": report["resolution"]}
    attainment = {
        p: {"first": v["first_response"]["rate"], "resolution": v["resolution"]["rate"]}
        for p, v in sla["by_priority"].items()
        if v["first_response"]["total"] or v["resolution"]["total"]
    }
    weekly = causes["weekly"]
    people = {a["name"]: a for a in report["abuse_exposure"]["agents"]}
    shown = {n: a["display_name"] or n for n, a in people.items()}
    return [
        _bars(
            "volume",
            "Volume by channel",
            "Conversations opened and customer messages received in the period.",
            "Channel",
            vol["by_channel"],
            [("Conversations", "conversations"), ("Customer messages", "messages")],
        ),
        _bars(
            "durations",
            "First response and resolution",
            "Business minutes, as the SLA clock counts them: median and 90th percentile.",
            "Measure",
            durations,
            [("Median", "median"), ("90th percentile", "p90")],
            unit=" min",
        ),
        _bars(
            "sla",
            "SLA attainment by priority",
            "Share of conversations within their priority's targets.",
            "Priority",
            attainment,
            [("First response", "first"), ("Resolution", "resolution")],
            percent=True,
        ),
        _bars(
            "csat",
            "CSAT answers by score",
            "Answers to the surveys sent in the period (1: very unhappy, 5: very happy).",
            "Score",
            {k: {"n": v} for k, v in report["csat"]["distribution"].items()},
            [("Answers", "n")],
        ),
        _bars(
            "escalations",
            "Escalations by rule",
            "Escalations, approvals and sanctions to confirm opened in the period, by the "
            "policy rule that opened them (manual: by hand).",
            "Rule",
            {k: {"n": v} for k, v in esc_["by_rule"].items()},
            [("Opened", "n")],
        ),
        _bars(
            "causes",
            "Root causes",
            "Share of complaint messages by their strongest root cause.",
            "Cause",
            {k: v for k, v in causes["by_cause"].items()},
            [("Share", "share")],
            label=_pretty,
            percent=True,
        ),
        Chart(
            id="causes-weekly",
            title="Root causes per week",
            caption="Customer messages with each root cause, per calendar week (weeks start "
            "on Monday in the desk's time zone).",
            axis="Week of",
            labels=tuple(w["week"] for w in weekly),
            series=tuple(
                Series(_pretty(c), tuple(float(w["counts"][c]) for w in weekly))
                for c in causes["by_cause"]
            ),
            kind="line",
        ),
        _bars(
            "archetypes",
            "Archetype mix",
            "Conversations by the customer's archetype (their latest analysed message).",
            "Archetype",
            {k: v for k, v in arch["mix"].items() if v["count"]},
            [("Conversations", "count")],
            label=_pretty,
        ),
        _bars(
            "exposure",
            "Abuse exposure per person",
            "Abusive messages each person answered, and the breaks they took.",
            "Person",
            people,
            [("Abusive messages answered", "exposures"), ("Breaks", "breaks")],
            label=lambda n: shown[n],
        ),
        _bars(
            "sanctions",
            "Sanctions by level",
            "Sanctions given and lifted in the period.",
            "Level",
            report["sanctions"]["by_level"],
            [("Given", "created"), ("Lifted", "lifted")],
        ),
    ]
