"""The reports page in headless Chromium: charts drawn on the server, accessible, within the CSP.

One desk per module holding November 2026's showcase history (tests/insights/history.py). The
page must show the service's figures (tests/insights/test_report.py proves those exact), draw
every chart as an SVG with its <title> and a data table, run no script and break no
Content-Security-Policy rule. Screenshots for docs/insights.md with GRACEDESK_SCREENSHOTS=1.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Locator, Page, expect

from gracedesk.service import actions, reports
from gracedesk.service.build import build_desk
from gracedesk.service.desk import CustomerRef, Desk, Incoming
from gracedesk.settings import Settings
from gracedesk.web import auth
from gracedesk.web.app import create_app
from insights.history import showcase_history

from .live import serve_in_thread
from .test_console import PASSWORD, SHOTS, login, shot

NOVEMBER = "since=2026-11-02&until=2026-11-29"


@dataclass
class Site:
    base: str
    desk: Desk


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    settings = Settings(home=tmp_path_factory.mktemp("reports"))
    desk = build_desk(settings)
    showcase_history(desk.store)
    now = datetime(2026, 12, 1, tzinfo=UTC)
    _replies_and_what_came_next(desk, now)
    auth.create_user(desk.store, "lead", role="supervisor", now=now, password=PASSWORD)
    auth.create_user(desk.store, "newbie", role="agent", now=now, password=PASSWORD)
    with serve_in_thread(create_app(settings, desk=desk)) as base:
        yield Site(base, desk)


def _replies_and_what_came_next(desk: Desk, now: datetime) -> None:
    """Live conversations through the real desk: an upset customer, an agent's reply, the
    customer's next message (calmer after an apology, not after an excuse), so the page has
    measured outcomes to show."""
    agent = auth.create_user(desk.store, "lia", role="agent", now=now, password=PASSWORD)[0]
    replies = (
        ("I'm so sorry about this. I've refunded you now.", "Thank you, that's fine."),
        ("That is our policy, there is nothing I can do.", "This is useless, I want a manager!"),
    )
    for i in range(8):
        at = datetime(2026, 11, 10 + i, 10, tzinfo=UTC)
        ref = CustomerRef(f"live-{i}", f"Live Customer {i}")
        first = desk.post_message(
            Incoming(ref, "You charged me twice and nobody answers. Fix it now!"),
            actor=None,
            now=at,
        )
        reply, answer = replies[i % 2]
        actions.send_reply(desk, first.conversation_id, reply, user=agent, now=at)
        desk.post_message(
            Incoming(ref, answer, conversation_id=first.conversation_id),
            actor=None,
            now=at.replace(hour=11),
        )


def _page(browser: Browser, site: Site, name: str) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    page = context.new_page()
    login(page, site.base, name)
    expect(page).to_have_url(f"{site.base}/console/")
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def lead(browser: Browser, site: Site) -> Iterator[Page]:
    yield from _page(browser, site, "lead")


@pytest.fixture
def newbie(browser: Browser, site: Site) -> Iterator[Page]:
    yield from _page(browser, site, "newbie")


def _figures(site: Site, **kw: Any) -> dict[str, Any]:
    period = reports.period_of("2026-11-02", "2026-11-29", now=datetime.now(UTC), **kw)
    return reports.summary(site.desk.store, site.desk.policy, period)


def test_a_supervisor_reads_the_month_in_charts_and_tables(lead: Page, site: Site) -> None:
    problems: list[str] = []

    def watch(msg: ConsoleMessage) -> None:
        if msg.type in ("error", "warning"):
            problems.append(msg.text)

    lead.on("console", watch)
    lead.click("nav a:text-is('Reports')")
    expect(lead).to_have_url(f"{site.base}/console/reports")
    expect(lead.locator("nav a[aria-current='page']")).to_have_text("Reports")
    lead.goto(f"{site.base}/console/reports?{NOVEMBER}")
    want = _figures(site)
    expect(lead.locator("#r-since")).to_have_value("2026-11-02")
    expect(lead.locator("#r-until")).to_have_value("2026-11-29")
    head = lead.locator("#report-headline")
    expect(head.locator("div", has_text="Conversations").locator("dd")).to_contain_text(
        str(want["volume"]["conversations"])
    )
    expect(head.locator("div", has_text="CSAT").first.locator("dd")).to_contain_text(
        str(want["csat"]["mean"])
    )
    # ten charts, each an SVG image named by its <title>, with a table of the same numbers
    svgs = lead.locator("figure.chart svg[role='img']")
    expect(svgs).to_have_count(10)
    for i in range(10):
        svg = svgs.nth(i)
        title_id, desc_id = (svg.get_attribute("aria-labelledby") or "").split()
        expect(svg.locator(f"title#{title_id}")).not_to_be_empty()
        expect(svg.locator(f"desc#{desc_id}")).not_to_be_empty()
    expect(lead.locator("figure.chart table.chart-data")).to_have_count(10)
    volume = lead.locator("#chart-volume-data")
    for channel, row in want["volume"]["by_channel"].items():
        cells = volume.locator("tr", has=lead.locator(f"th:text-is('{channel}')")).locator("td")
        expect(cells).to_have_text([str(row["conversations"]), str(row["messages"])])
    csat = lead.locator("#chart-csat-data tbody td")
    expect(csat).to_have_text([str(n) for n in want["csat"]["distribution"].values()])
    # a bar's tooltip names its figure
    bar = lead.locator("#chart-csat svg rect title").first
    expect(bar).to_have_text(f"1 · Answers: {want['csat']['distribution']['1']}")
    top = want["repeat_complainers"]["customers"][0]
    expect(lead.locator("#repeat-complainers tbody tr").first).to_contain_text(top["name"])
    predicted = lead.locator("#predicted-csat")
    expect(predicted).to_have_attribute("data-status", "ok")
    expect(predicted).to_contain_text(f"mean absolute error {want['predicted_csat']['mae']}")
    # what calms customers: the same adjusted figures as the report, with the caveat
    calms = lead.locator("#what-calms")
    outcomes = want["outcomes"]
    expect(calms).to_contain_text(f"{outcomes['replies']} agent replies")
    expect(calms).to_contain_text("Observational, not causal")
    expect(calms.locator("table.calms")).to_have_count(3)
    assert outcomes["measured"] >= 8 and outcomes["steps"]
    first = outcomes["steps"][0]
    row = calms.locator("table.calms").first.locator("tbody tr").first
    expect(row.locator("td").first).to_have_text(first["key"].replace("_", " "))
    expect(row.locator("td").nth(1)).to_have_text(str(first["replies"]))
    expect(calms).to_contain_text(f"{outcomes['measured']} with a customer message after them")
    assert lead.locator("script:not([src])").count() == 0
    shot(lead, "reports")
    element_shot(calms, "reports-calms")
    element_shot(lead.locator("section.card").first, "reports-headline")
    element_shot(lead.locator("#chart-causes-weekly"), "reports-causes")
    assert not problems, problems  # no CSP violation, no script error


def element_shot(locator: Locator, name: str) -> None:
    """One part of the page, for docs/insights.md (only with GRACEDESK_SCREENSHOTS=1)."""
    if os.environ.get("GRACEDESK_SCREENSHOTS") == "1":
        SHOTS.mkdir(parents=True, exist_ok=True)
        locator.screenshot(path=str(SHOTS / f"console-{name}.png"))


def test_the_form_narrows_to_a_team_and_a_person(lead: Page, site: Site) -> None:
    lead.goto(f"{site.base}/console/reports?{NOVEMBER}")
    lead.fill("#r-team", "tech")
    lead.select_option("#r-agent", "ana")
    lead.click("#report-filters button[type=submit]")
    expect(lead).to_have_url(re.compile(r"team=tech.*agent=ana"))
    expect(lead.locator("#report-period")).to_contain_text("team tech")
    want = _figures(site, team="tech", agent="ana")
    expect(
        lead.locator("#report-headline div", has_text="Conversations").locator("dd")
    ).to_contain_text(str(want["volume"]["conversations"]))
    href = lead.locator("#report-csv").get_attribute("href") or ""
    assert "team=tech" in href and "agent=ana" in href
    r = lead.request.get(f"{site.base}{href}")
    assert r.status == 200 and r.headers["content-type"].startswith("text/csv")
    assert f"volume,conversations,{want['volume']['conversations']}" in r.text()
    html = lead.request.get(f"{site.base}{href.replace('format=csv', 'format=html')}")
    assert html.status == 200 and "<svg" in html.text()


def test_an_unusable_date_is_explained_on_the_page(lead: Page, site: Site) -> None:
    response = lead.goto(f"{site.base}/console/reports?since=2026-11-30&until=2026-11-01")
    assert response is not None and response.status == 422
    expect(lead.locator("#report-error")).to_contain_text("must be before")
    expect(lead.locator("#r-since")).to_have_value("2026-11-30")  # kept as typed
    expect(lead.locator("figure.chart")).to_have_count(0)


def test_agents_have_no_reports(newbie: Page, site: Site) -> None:
    expect(newbie.locator("nav a:text-is('Reports')")).to_have_count(0)
    response = newbie.goto(f"{site.base}/console/reports")
    assert response is not None and response.status == 403
    download = newbie.request.get(f"{site.base}/console/reports/download?format=csv")
    assert download.status == 403
