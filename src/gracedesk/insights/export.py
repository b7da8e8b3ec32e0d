"""The report as a file: JSON, CSV (one row per figure) or a standalone HTML page.

The HTML page carries its own stylesheet and the same SVG charts as the console, and nothing
else: it opens offline, from an e-mail attachment or a shared folder. Text from the store (a
customer's name, a team, a display name) is escaped; in the CSV a text that a spreadsheet would
run as a formula (``=``, ``+``, ``-``, ``@`` first) is quoted with a leading apostrophe.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from gracedesk.insights.charts import charts, esc, figure_html

FORMULA = ("=", "+", "-", "@", "\t", "\r")


def to_json(report: Mapping[str, Any]) -> str:
    return json.dumps(report, indent=2, ensure_ascii=False) + "\n"


def _key(item: Any, index: int) -> str:
    """A list item's key in the CSV: its week, customer id or name, else its position."""
    if isinstance(item, Mapping):
        for k in ("week", "customer_id", "name"):
            if item.get(k) is not None:
                return str(item[k])
    return str(index)


def _flatten(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    if isinstance(value, Mapping) and value:
        for k, v in value.items():
            yield from _flatten(v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, list) and value:
        for i, v in enumerate(value):
            yield from _flatten(v, f"{path}.{_key(v, i)}" if path else _key(v, i))
    else:
        yield path, value


def _cell(value: Any) -> str:
    if value is None or value == {} or value == []:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return "'" + value if value.startswith(FORMULA) else value
    return str(value)


def csv_rows(report: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """``(section, key, value)`` for every figure: nested keys joined with dots."""
    return [
        (section, key, _cell(v))
        for section, value in report.items()
        for key, v in _flatten(value, "")
    ]


def to_csv(report: Mapping[str, Any]) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(("section", "key", "value"))
    w.writerows(csv_rows(report))
    return out.getvalue()


def _pct(x: Any) -> str:
    return "—" if x is None else f"{x * 100:.1f}%"


def _num(x: Any, unit: str = "") -> str:
    return "—" if x is None else f"{x:g}{unit}"


def headline(report: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """The figures at the top of the page: (label, value, what it counts)."""
    vol, fr, rs, sla = (report[k] for k in ("volume", "first_response", "resolution", "sla"))
    cs, ro, esc_ = report["csat"], report["reopen_rate"], report["escalations"]["rate"]
    pc = report["predicted_csat"]
    return [
        ("Conversations", str(vol["conversations"]), f"opened; {vol['messages']} messages"),
        ("First response", _num(fr["median"], " min"), f"median; p90 {_num(fr['p90'], ' min')}"),
        ("Resolution", _num(rs["median"], " min"), f"median; p90 {_num(rs['p90'], ' min')}"),
        (
            "SLA attainment",
            _pct(sla["first_response"]["rate"]),
            f"first response; resolution {_pct(sla['resolution']['rate'])}",
        ),
        (
            "CSAT",
            _num(cs["mean"]),
            f"mean of {cs['answered']}; {_pct(cs['response_rate'])} answered",
        ),
        ("Reopened", _pct(ro["rate"]), f"{ro['reopened']} of {ro['resolved']} resolved"),
        ("Escalated", _pct(esc_["rate"]), f"{esc_['escalated']} of {esc_['conversations']} new"),
        ("Predicted CSAT", _num(pc["predicted"]["mean"]), _predicted_note(pc)),
    ]


def _predicted_note(p: Mapping[str, Any]) -> str:
    if p["status"] != "ok":
        return f"not enough answers ({p['answered']} of {p['minimum']})"
    return f"for {p['predicted']['conversations']} unanswered; MAE {p['mae']}"


def predicted_text(p: Mapping[str, Any]) -> str:
    """What the predicted CSAT says, in one sentence."""
    if p["status"] != "ok":
        return (
            f"Not enough answers: {p['answered']} answered conversation(s) in the store; the "
            f"model needs {p['minimum']} before it predicts anything."
        )
    n = p["predicted"]["conversations"]
    what = (
        f"{p['predicted']['mean']} expected on average for the {n} conversation(s) resolved "
        "without an answer"
        if n
        else "Every conversation resolved in the period has an answer"
    )
    return (
        f"{what}. Validated on {p['answered']} answered conversations ({p['folds']}-fold "
        f"cross-validation): mean absolute error {p['mae']}, against {p['baseline_mae']} for "
        "always predicting the mean answer."
    )


STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2430;
background:#f4f6f9;margin:0;line-height:1.5}
main{max-width:1200px;margin:0 auto;padding:1.5rem}
h1{font-size:1.5rem;margin:0 0 .25rem}h2{font-size:1.1rem}
.muted{color:#5b6576}.small{font-size:.85rem}
.headline{display:grid;grid-template-columns:repeat(auto-fill,minmax(130px,1fr));gap:.75rem;
margin:1rem 0;padding:0}
.headline div{background:#fff;border:1px solid #d9dee6;border-radius:8px;padding:.6rem .8rem}
.headline dt{font-size:.85rem;color:#5b6576}.headline dd{margin:0;font-size:1.35rem;font-weight:600}
.headline dd span{display:block;font-size:.8rem;font-weight:400;color:#5b6576}
figure.chart,section.card{background:#fff;border:1px solid #d9dee6;border-radius:8px;
margin:0 0 1rem;padding:1rem}
.chart-body{display:flex;flex-wrap:wrap;gap:1.25rem;align-items:flex-start}
.chart-drawing{flex:0 1 560px;max-width:100%}.chart-drawing svg{max-width:100%;height:auto}
table{border-collapse:collapse;font-size:.9rem}caption{text-align:left;font-weight:600;
padding-bottom:.25rem}th,td{border-bottom:1px solid #d9dee6;padding:.25rem .6rem;text-align:left}
td.num{text-align:right;font-variant-numeric:tabular-nums}
"""


def headline_html(report: Mapping[str, Any]) -> str:
    return (
        '<dl class="headline">'
        + "".join(
            f"<div><dt>{esc(label)}</dt><dd>{esc(value)}<span>{esc(note)}</span></dd></div>"
            for label, value, note in headline(report)
        )
        + "</dl>"
    )


def complainers_html(report: Mapping[str, Any]) -> str:
    rows = (
        "".join(
            f"<tr><td>{esc(c['name'] or '—')}</td><td>{esc(c['external_id'] or '—')}</td>"
            f'<td class="num">{c["complaints"]}</td><td class="num">{c["conversations"]}</td></tr>'
            for c in report["repeat_complainers"]["customers"]
        )
        or '<tr><td colspan="4" class="muted">No repeat complainers in this period</td></tr>'
    )
    return (
        '<table class="table" id="repeat-complainers"><caption>Repeat complainers</caption>'
        '<thead><tr><th scope="col">Customer</th><th scope="col">External id</th>'
        '<th scope="col">Complaint messages</th><th scope="col">Conversations</th></tr></thead>'
        f"<tbody>{rows}</tbody></table>"
    )


def _utc(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def to_html(report: Mapping[str, Any]) -> str:
    """A standalone page: headline figures, every chart with its table, the model's verdict."""
    p = report["period"]
    scope = ", ".join(f"{k} {esc(p[k])}" for k in ("team", "agent") if p.get(k) is not None)
    since, until = (datetime.fromisoformat(p[k]) for k in ("since", "until"))
    last = (until - timedelta(microseconds=1)).date()
    title = f"gracedesk report {since.date().isoformat()} – {last.isoformat()}"
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{STYLE}</style></head><body><main>"
        f"<h1>{esc(title)}</h1>"
        f'<p class="muted">From {esc(_utc(since))} to {esc(_utc(until))} (not included); '
        f"durations in business minutes of the {esc(p['timezone'])} calendar"
        f"{'; ' + scope if scope else ''}.</p>"
        f"{headline_html(report)}"
        + "".join(figure_html(c) for c in charts(report))
        + f'<section class="card">{complainers_html(report)}</section>'
        + '<section class="card"><h2>Predicted CSAT</h2>'
        + f"<p>{esc(predicted_text(report['predicted_csat']))}</p></section>"
        + "</main></body></html>\n"
    )
