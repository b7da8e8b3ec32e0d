"""The same report through its doors: the API, the CLI (JSON, CSV, HTML) and the SVG charts.

The figures come from tests/insights/history.py's hand-built history (test_report.py checks
every one); here they must arrive unchanged, escaped where they are text.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from gracedesk.cli.main import cli
from gracedesk.insights import charts, export
from gracedesk.service.desk import Desk
from gracedesk.settings import Settings
from gracedesk.store import Store
from gracedesk.web.app import create_app

from .conftest import make_user
from .history import Builder, hand_history, t

PERIOD = {"since": "2026-11-02", "until": "2026-11-29"}


@pytest.fixture
def api(settings: Settings, desk: Desk) -> Iterator[tuple[TestClient, dict[str, dict[str, str]]]]:
    heads = {}
    for name, role in (("lead", "supervisor"), ("boss", "admin"), ("newbie", "agent")):
        _, token = make_user(desk.store, name, role)
        heads[role] = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(settings, desk=desk)) as client:
        yield client, heads


def test_the_api_serves_the_figures_to_supervisors(api: Any, desk: Desk) -> None:
    client, heads = api
    hand_history(desk.store)
    for role in ("supervisor", "admin"):
        r = client.get("/api/v1/reports/summary", params=PERIOD, headers=heads[role])
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["volume"]["messages"] == 9
        assert body["first_response"] == {"count": 4, "median": 55.0, "p90": 279.0, "unanswered": 1}
        assert body["csat"]["mean"] == 2.33
    team = client.get(
        "/api/v1/reports/summary", params={**PERIOD, "team": "tech"}, headers=heads["supervisor"]
    ).json()
    assert team["volume"]["conversations"] == 3


@pytest.mark.parametrize(
    ("params", "status", "detail"),
    [
        ({"since": "last tuesday"}, 422, "ISO 8601"),  # unusable date
        ({"since": "2026-11-29", "until": "2026-11-02"}, 422, "must be before"),
        ({"agent": "nobody"}, 422, "no user named"),
        ({"team": "x" * 81}, 422, ""),  # over the schema's bound
    ],
)
def test_the_api_answers_bad_parameters_with_problems(
    api: Any, params: dict[str, str], status: int, detail: str
) -> None:
    client, heads = api
    r = client.get("/api/v1/reports/summary", params=params, headers=heads["supervisor"])
    assert r.status_code == status
    assert r.headers["content-type"].startswith("application/problem+json")
    assert detail in r.json()["detail"]


def test_agents_may_not_read_reports_even_with_bad_parameters(api: Any) -> None:
    client, heads = api
    for params in ({}, {"since": "nonsense"}):
        r = client.get("/api/v1/reports/summary", params=params, headers=heads["agent"])
        assert r.status_code == 403


def _cli(db_url: str, tmp_path: Path, *args: str) -> Any:
    env = {"GRACEDESK_DATABASE_URL": db_url, "GRACEDESK_HOME": str(tmp_path / "home")}
    return CliRunner().invoke(cli, ["report", *args], env=env)


def test_the_cli_writes_json_csv_and_html(store: Store, db_url: str, tmp_path: Path) -> None:
    ids = hand_history(store)
    period = ["--since", PERIOD["since"], "--until", PERIOD["until"]]
    r = _cli(db_url, tmp_path, *period)
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert data["sla"]["first_response"] == {"met": 3, "total": 4, "rate": 0.75}
    assert data["outcomes"]["replies"] == 6

    r = _cli(db_url, tmp_path, *period, "--format", "csv", "--team", "tech")
    assert r.exit_code == 0, r.output
    rows = list(csv.reader(io.StringIO(r.output)))
    assert rows[0] == ["section", "key", "value"]
    cells = {(s, k): v for s, k, v in rows[1:]}
    assert cells["period", "team"] == "tech"
    assert cells["volume", "messages"] == "5"
    assert cells["volume", "by_channel.email.messages"] == "4"
    assert cells["first_response", "median"] == "182.5"
    assert cells["causes", "weekly.2026-11-16.counts.miscommunication"] == "1"
    assert cells["repeat_complainers", f"customers.{ids['kim']}.complaints"] == "3"
    assert cells["predicted_csat", "mae"] == ""

    out = tmp_path / "report.html"
    r = _cli(db_url, tmp_path, *period, "--format", "html", "-o", str(out))
    assert r.exit_code == 0, r.output
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!doctype html>")
    assert page.count('<svg xmlns="http://www.w3.org/2000/svg" role="img"') == 10
    assert "<script" not in page and "http://" not in page.replace(
        'xmlns="http://www.w3.org/2000/svg"', ""
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "soon"], "ISO 8601"),
        (["--since", "2026-11-29", "--until", "2026-11-01"], "must be before"),
        (["--agent", "nobody"], "no user named"),
        (["--format", "pdf"], "pdf"),
    ],
)
def test_the_cli_refuses_bad_input(
    store: Store, db_url: str, tmp_path: Path, args: list[str], message: str
) -> None:
    r = _cli(db_url, tmp_path, *args)
    assert r.exit_code == 2, r.output
    assert message in r.output


def test_untrusted_text_is_escaped_in_svg_html_and_csv(store: Store, policy: Any) -> None:
    from datetime import UTC, datetime

    from gracedesk.service import reports

    with store.write() as s:
        b = Builder(s)
        evil = b.user("eve")
        evil.display_name = '<img src=x onerror="alert(1)">'
        cust = b.customer("=HYPERLINK(1)", "=cmd|' /C calc'!A0")
        conv = b.conversation(cust, opened=t(3, 10), team="<b>team</b>", assignee=evil)
        for day in (3, 4):
            b.said(conv, t(day, 10), labels=("complaint", "abusive"), causes={"poor_service": 1})
        b.event("agent.exposed", t(3, 11), conv=conv, user_id=evil.id)
    period = reports.period_of(
        "2026-11-02", "2026-11-29", team="<b>team</b>", now=datetime(2026, 12, 1, tzinfo=UTC)
    )
    report = reports.summary(store, policy, period)
    page = export.to_html(report)
    assert "<img" not in page and "<b>team" not in page
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in page
    rows = export.csv_rows(report)
    names = [v for s, k, v in rows if s == "repeat_complainers" and k.endswith(".name")]
    assert names == ["'=cmd|' /C calc'!A0"]
    assert ("period", "team", "<b>team</b>") in rows  # CSV is data, not markup


def test_charts_are_accessible_svg_with_a_table_each() -> None:
    bar = charts.Chart(
        id="demo",
        title="Demo & co",
        caption="Two series.",
        axis="Thing",
        labels=("a", "b" * 40),
        series=(charts.Series("One", (1.0, 3.0)), charts.Series("Two", (None, 0.5))),
    )
    svg = charts.svg(bar)
    assert 'role="img"' in svg and 'aria-labelledby="chart-demo-title chart-demo-desc"' in svg
    assert '<title id="chart-demo-title">Demo &amp; co</title>' in svg
    assert "style=" not in svg  # the console's CSP forbids inline styles
    # a long label is cut on the chart; its <title>, the <desc> and the table keep it whole
    assert f'middle">{"b" * 21}…<title>{"b" * 40}</title></text>' in svg
    assert svg.count("<rect") == 2 + 4  # two legend swatches, one bar per value
    table = charts.table_html(bar)
    assert "<caption>Demo &amp; co: the numbers</caption>" in table
    assert table.count('<th scope="row">') == 2 and "—" in table
    line = charts.Chart(
        id="w",
        title="Weekly",
        caption="",
        axis="Week",
        labels=("2026-11-02", "2026-11-09"),
        series=(charts.Series("x", (1.0, 2.0)),),
        kind="line",
    )
    assert "<polyline" in charts.svg(line) and charts.svg(line).count("<circle") == 2
    empty = charts.Chart("e", "Empty", "", "Thing", (), ())
    assert "No data in this period" in charts.svg(empty)
    assert "No data in this period" in charts.table_html(empty)
