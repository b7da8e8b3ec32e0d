"""The training console in headless Chromium: an agent practises to the end with plain form
posts and reads the score; a supervisor assigns a set and reads everyone's progress; an agent
may not assign. No script and no Content-Security-Policy violation on any training page.

The data directory holds a scenario built from a (made-up) desk conversation, so the console's
library shows the packaged scenarios and the team's own. Screenshots for docs/training.md with
GRACEDESK_SCREENSHOTS=1.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Browser, Page, expect

from gracedesk.service import training, training_progress
from gracedesk.service.build import build_desk
from gracedesk.service.desk import Desk
from gracedesk.settings import Settings
from gracedesk.store.tables import User
from gracedesk.training.from_desk import DeskConversation, DeskTurn, build
from gracedesk.web import auth
from gracedesk.web.app import create_app
from training.sessions import BAD as SESSION_BAD
from training.sessions import GOOD, SCENARIO

from .live import serve_in_thread
from .test_console import PASSWORD, login, shot

BAD = SESSION_BAD[:2]  # two dismissive replies: the customer is still there after them
WATCH = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(`${e.effectiveDirective} blocked ${e.blockedURI || "inline"}`);
});
"""


@dataclass
class Site:
    base: str
    desk: Desk
    users: dict[str, User]
    built: str  # the id of the scenario made from the desk


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    home = tmp_path_factory.mktemp("training")
    settings = Settings(home=home)
    desk = build_desk(settings)
    now = datetime.now(UTC)
    users = {
        name: auth.create_user(desk.store, name, role=role, now=now, password=PASSWORD)[0]
        for name, role in (("ana", "agent"), ("bo", "agent"), ("lead", "supervisor"))
    }
    conv = DeskConversation(
        id=4,
        channel="email",
        subject="Router <b>dead</b> again",
        risk=0.9,
        escalated=True,
        csat=1,
        resolution="Sent a technician",
        turns=(
            DeskTurn("customer", "My router is dead AGAIN. <script>alert(1)</script> Fix it!"),
            DeskTurn("agent", "I am sorry. A technician will come tomorrow."),
        ),
    )
    (home / "scenarios").mkdir()
    made = build([conv], 1)[0]
    (home / "scenarios" / f"{made.id}.toml").write_text(made.toml, encoding="utf-8")
    with serve_in_thread(create_app(settings, desk=desk)) as base:
        yield Site(base, desk, users, made.id)


@pytest.fixture
def problems() -> list[str]:
    return []


def _page(browser: Browser, site: Site, name: str, problems: list[str]) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1360, "height": 1000})
    context.add_init_script(WATCH)
    page = context.new_page()
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    login(page, site.base, name)
    expect(page).to_have_url(f"{site.base}/console/")
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def ana(browser: Browser, site: Site, problems: list[str]) -> Iterator[Page]:
    yield from _page(browser, site, "ana", problems)


@pytest.fixture
def lead(browser: Browser, site: Site, problems: list[str]) -> Iterator[Page]:
    yield from _page(browser, site, "lead", problems)


def _clean(problems: list[str], page: Page) -> list[str]:
    """Console errors (a CSP violation logs one on every page) and this page's violations;
    a missing favicon is no problem."""
    found = [p for p in problems if not p.startswith("Failed to load resource")]
    return found + page.evaluate("window.__csp || []")


def test_an_agent_plays_a_scenario_to_the_end_and_sees_the_score(
    ana: Page, site: Site, problems: list[str]
) -> None:
    ana.click("nav a:text-is('Training')")
    expect(ana).to_have_url(f"{site.base}/console/training")
    expect(ana.locator("nav a[aria-current='page']")).to_have_text("Training")
    # the library: packaged scenarios and the one built from this desk, its text escaped
    library = ana.locator("#library tbody tr")
    expect(library).to_have_count(len(training.library().scenarios) + 1)
    mine = ana.locator(f"tr[data-scenario='{site.built}']")
    expect(mine).to_contain_text("your team's")
    expect(mine).to_contain_text("Router <b>dead</b> again")
    shot(ana, "training")

    ana.click(f"button[data-start='{SCENARIO}']")
    expect(ana).to_have_url(re.compile(r"/console/training/sessions/\d+$"))
    sid = int(ana.url.rsplit("/", 1)[1])
    expect(ana.locator("#transcript li[data-role='customer']")).to_have_count(1)
    expect(ana.locator("#mood svg.mood")).to_be_visible()
    expect(ana.locator("#result")).to_have_count(0)
    for i, text in enumerate(GOOD):
        ana.fill("#reply-text", text)
        ana.click("#reply-form button[type=submit]")
        expect(ana.locator("#transcript li[data-role='trainee']")).to_have_count(i + 1)
        if ana.locator("#result").count():
            break
    stored = training.practice(site.desk.store, training.library(), sid, user=site.users["ana"])
    assert stored.done and stored.result is not None and stored.result.passed
    expect(ana.locator("#score")).to_have_text(f"{stored.result.score:.0f}")
    expect(ana.locator("#verdict")).to_have_text("Passed")
    expect(ana.locator(".flash-info")).to_contain_text("The session has ended")
    expect(ana.locator("#rubric tbody tr")).to_have_count(8)
    expect(ana.locator("#rubric tr[data-criterion='empathy']")).to_contain_text("1")
    expect(ana.locator("#reply-form")).to_have_count(0)
    shot(ana, "training-session")

    # the desk's own scenario plays too; a customer's markup stays text
    ana.goto(f"{site.base}/console/training")
    expect(ana.locator("#my-sessions tbody tr")).to_have_count(1)
    expect(ana.locator("#my-sessions .score")).to_have_text(f"{stored.result.score:.0f}")
    ana.click(f"button[data-start='{site.built}']")
    expect(ana.locator("#transcript li[data-role='customer'] .message")).to_contain_text(
        "<script>alert(1)</script>"
    )
    ana.fill("#reply-text", BAD[0])
    ana.click("#reply-form button[type=submit]")
    ana.click("#finish-form button[type=submit]")
    expect(ana.locator("#verdict")).to_have_text("Not passed")
    assert _clean(problems, ana) == []


def test_a_supervisor_assigns_a_set_and_sees_each_agents_progress(
    lead: Page, browser: Browser, site: Site, problems: list[str]
) -> None:
    store, lib, bo = site.desk.store, training.library(), site.users["bo"]
    week_ago = datetime.now(UTC) - timedelta(days=7)
    for when, texts in ((week_ago, BAD), (datetime.now(UTC), GOOD)):
        sid = training.start(store, lib, SCENARIO, user=bo, now=when)
        for text in texts:
            if training.reply(store, lib, sid, text, user=bo, now=when).done:
                break
        if not training.practice(store, lib, sid, user=bo).done:
            training.finish(store, lib, sid, user=bo, now=when)
    lead.goto(f"{site.base}/console/training")
    lead.select_option("#assign-agent", label="bo")
    lead.select_option("#assign-what", value="set:foundations")
    lead.fill("#assign-due", "2030-01-31")
    lead.click("#assign-form button[type=submit]")
    expect(lead.locator(".flash-success")).to_contain_text("Assigned set foundations to bo")
    row = lead.locator("#assignments-table tbody tr").first
    expect(row).to_contain_text("bo")
    expect(row).to_contain_text("set foundations")

    progress = {p.name: p for p in training_progress.progress(store, lib, by=site.users["lead"])}
    bo_row = lead.locator("#progress-table tr[data-agent='bo']")
    expect(bo_row.locator("td").nth(1)).to_have_text("2")  # sessions
    expect(bo_row.locator("td").nth(2)).to_have_text("1")  # passed
    expect(bo_row.locator(".mean")).to_have_text(f"{progress['bo'].mean_score:.0f}")
    expect(bo_row.locator("td").last).to_have_text("1")  # the open assignment
    # the chart: one line per person over the weeks, with its data table
    figure = lead.locator("#chart-training-progress")
    expect(figure.locator("svg[role='img'] polyline")).not_to_have_count(0)
    expect(figure.locator("table.chart-data")).to_contain_text("bo")
    shot(lead, "training-progress")

    # one agent's sessions, and a session read-only
    lead.click("#progress-table tr[data-agent='bo'] a")
    expect(lead.locator("#agent-sessions-table tbody tr")).to_have_count(2)
    lead.locator("#agent-sessions-table a").first.click()
    expect(lead.locator("#result")).to_be_visible()
    expect(lead.locator("#reply-form")).to_have_count(0)
    assert _clean(problems, lead) == []

    # bo sees the assignment, due date and all
    context = browser.new_context()
    try:
        bo_page = context.new_page()
        login(bo_page, site.base, "bo")
        bo_page.goto(f"{site.base}/console/training")
        expect(bo_page.locator("#assigned tbody tr").first).to_contain_text("set foundations")
        expect(bo_page.locator("#assigned tbody tr").first).to_contain_text("31 Jan")
    finally:
        context.close()


def test_an_agent_can_neither_assign_nor_reply_in_anothers_session(ana: Page, site: Site) -> None:
    ana.goto(f"{site.base}/console/training")
    expect(ana.locator("#assign-form")).to_have_count(0)
    expect(ana.locator("#progress")).to_have_count(0)
    token = ana.locator("meta[name='csrf-token']").get_attribute("content") or ""
    answer = ana.request.post(
        f"{site.base}/console/training/assign",
        form={"csrf_token": token, "agent_id": str(site.users["ana"].id), "what": "set:advanced"},
    )
    assert answer.status == 403
    assert "may not" in answer.text()
    others = training.start(
        site.desk.store, training.library(), SCENARIO, user=site.users["bo"], now=datetime.now(UTC)
    )
    page = ana.goto(f"{site.base}/console/training/sessions/{others}")
    assert page is not None and page.status == 403
    answer = ana.request.post(
        f"{site.base}/console/training/sessions/{others}/reply",
        form={"csrf_token": token, "text": "hello"},
    )
    assert answer.status == 403
    assert training.assignments(site.desk.store, training.library(), user=site.users["ana"]) == []
