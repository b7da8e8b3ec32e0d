"""Customers, flags, sanctions and the audit log in real headless Chromium (issue 16, 3 and 4).

One app, desk and live server for the module (``world``), seeded with a few customers. Tests
that change a customer make their own (``World.customer``), so they do not depend on each
other's order. Screenshots for docs/console.md are written only when ``GRACEDESK_SCREENSHOTS=1``.
"""

from __future__ import annotations

import csv
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from gracedesk.service import actions, audit_log, customers, records
from gracedesk.service.audit_log import AuditFilter
from gracedesk.service.build import build_desk
from gracedesk.service.desk import CustomerRef, Desk, Incoming
from gracedesk.settings import Settings
from gracedesk.store.tables import CsatResponse, User
from gracedesk.web import auth
from gracedesk.web.app import create_app

from .live import serve_in_thread
from .test_console import PASSWORD, login, now, shot

USERS = (("ana", "agent", "Ana Ortiz"), ("sam", "supervisor", "Sam Reyes"))
SEED = (  # external id, name, e-mail, phone, conversations: [(days ago, text), ...]
    (
        "CRM-1042",
        "Rex Hammond",
        "rex.hammond@example.org",
        "+1 (555) 010-2299",
        (
            ((9, "My router has been broken for a week and nobody calls back."),),  # resolved
            (
                (2, "Still broken. I demand a refund right now, this is unacceptable!"),
                (0, "You useless idiots, fix my broken router today or I go to the press!"),
            ),
        ),
    ),
    (
        "CRM-2077",
        "Dana Whitfield",
        "dana@example.org",
        "+44 20 7946 0958",
        (((1, "Hi, where is my parcel?"),),),
    ),
    ("web-31", "Lee Park", None, None, (((0, "Please update my delivery address, thanks!"),),)),
)


@dataclass
class World:
    base: str
    desk: Desk
    users: dict[str, User]
    ids: dict[str, int]  # customer ids by external id
    states: dict[str, Any] = field(default_factory=dict)  # browser storage state per user

    def customer(self, text: str = "You are all useless, I want my money back.") -> int:
        """A new customer with one conversation; returns the customer's id."""
        ext = f"c-{uuid.uuid4().hex[:8]}"
        self.desk.post_message(
            Incoming(customer=CustomerRef(ext, f"Casey {ext[-4:]}"), text=text),
            actor=None,
            now=now(),
        )
        return customers.search(self.desk, ext, now=now())["items"][0]["id"]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, browser: Browser) -> Iterator[World]:
    settings = Settings(home=tmp_path_factory.mktemp("customers"))
    desk = build_desk(settings)
    users = {
        name: auth.create_user(
            desk.store, name, role=role, now=now(), password=PASSWORD, display_name=display
        )[0]
        for name, role, display in USERS
    }
    for ext, name, email, phone, conversations in SEED:
        ref = CustomerRef(ext, name, email, phone)
        for n, messages in enumerate(conversations):
            for days, text in messages:
                at = now() - timedelta(days=days)
                posted = desk.post_message(Incoming(customer=ref, text=text), actor=None, now=at)
            if n < len(conversations) - 1:  # all but the last are closed, with a survey answer
                _resolved(desk, users["sam"], posted.conversation_id, at=at + timedelta(hours=4))
    ids = {ext: customers.search(desk, ext, now=now())["items"][0]["id"] for ext, *_ in SEED}
    records.add_note(
        desk, ids["CRM-1042"], "Prefers phone calls; escalates fast.", user=users["ana"], now=now()
    )
    customers.add_flag(desk, ids["CRM-1042"], "press", user=users["sam"], now=now())
    with serve_in_thread(create_app(settings, desk=desk)) as base:
        yield World(base, desk, users, ids)


def _resolved(desk: Desk, sam: User, conv: int, *, at: datetime) -> None:
    """Resolve ``conv`` and let the customer answer the survey (2 out of 5)."""
    actions.resolve(desk, conv, user=sam, resolution="Router replaced", now=at)
    with desk.store.read() as s:
        token = s.scalars(
            select(CsatResponse.token).where(CsatResponse.conversation_id == conv)
        ).one()
    actions.submit_csat(desk, token, 2, "Took far too long.", now=at + timedelta(hours=1))


def signed_in(browser: Browser, world: World, name: str) -> Iterator[Page]:
    """A fresh browser context signed in as ``name`` (through the sign-in form once)."""
    if name not in world.states:
        context = browser.new_context()
        page = context.new_page()
        login(page, world.base, name)
        expect(page).to_have_url(f"{world.base}/console/")
        world.states[name] = context.storage_state()
        context.close()
    context = browser.new_context(
        storage_state=world.states[name],
        viewport={"width": 1360, "height": 900},
        accept_downloads=True,
    )
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def agent(browser: Browser, world: World) -> Iterator[Page]:
    yield from signed_in(browser, world, "ana")


@pytest.fixture
def supervisor(browser: Browser, world: World) -> Iterator[Page]:
    yield from signed_in(browser, world, "sam")


def flash(page: Page) -> Any:
    return page.locator("#flashes .flash")


# -- search and the customer page -----------------------------------------------------------------


def test_search_finds_a_customer_whose_page_takes_a_flag(supervisor: Page, world: World) -> None:
    supervisor.goto(f"{world.base}/console/")
    supervisor.click("nav.nav a:text-is('Customers')")
    expect(supervisor.locator("h1")).to_contain_text("Customers")
    expect(supervisor.locator("table.customers tbody tr")).to_have_count(len(SEED))
    shot(supervisor, "customers")
    for query, found in (("HAMMOND", "Rex Hammond"), ("7946 0958", "Dana Whitfield")):
        supervisor.fill("#q", query)
        supervisor.click(".search-form button[type=submit]")
        expect(supervisor.locator("table.customers tbody tr")).to_have_count(1)
        expect(supervisor.locator("table.customers td.name")).to_have_text(found)
    supervisor.fill("#q", "5550102299")  # the phone number without its separators
    supervisor.click(".search-form button[type=submit]")
    expect(supervisor.locator("table.customers td.name")).to_have_text("Rex Hammond")
    expect(supervisor.locator("table.customers td.flags .flag")).to_have_text(["press"])

    supervisor.click("table.customers td.name a")
    rex = world.ids["CRM-1042"]
    expect(supervisor).to_have_url(f"{world.base}/console/customers/{rex}")
    expect(supervisor.locator("nav.nav a[aria-current='page']")).to_have_text("Customers")
    expect(supervisor.locator("#customer-title")).to_contain_text("Rex Hammond")
    history = supervisor.locator("table.history tbody tr")
    expect(history).to_have_count(2)
    expect(history.locator(".status-resolved")).to_have_count(1)
    expect(history.locator(".risk.badge-high")).to_have_count(1)
    expect(supervisor.locator(".archetype")).not_to_be_empty()
    expect(supervisor.locator(".csat-mean")).to_have_text("2.00")
    expect(supervisor.locator(".csat-answers")).to_contain_text("Took far too long.")
    expect(supervisor.locator(".notes")).to_contain_text("Prefers phone calls")
    # the insult in the subject is masked here as on the conversation page
    expect(supervisor.locator("table.history")).not_to_contain_text("idiots")

    supervisor.fill("#flag", "vulnerable")
    supervisor.fill("#flag-reason", "recent bereavement")
    supervisor.click("#flag-form button[type=submit]")
    expect(flash(supervisor)).to_have_text("Flagged “vulnerable”.")
    expect(supervisor.locator(".conv-head .flag")).to_have_text(["press", "vulnerable"])
    expect(supervisor.locator(".flag-list li[data-flag='vulnerable']")).to_contain_text(
        "vulnerable situation"
    )
    shot(supervisor, "customer")
    assert [f["name"] for f in customers.profile(world.desk, rex, now=now())["flags"]] == [
        "press",
        "vulnerable",
    ]
    supervisor.fill("#flag", "Legal Hold")  # not a slug: the form's pattern stops it first
    assert supervisor.locator("#flag").evaluate("e => !e.checkValidity()")
    token = supervisor.get_attribute("meta[name=csrf-token]", "content") or ""
    refused = supervisor.request.post(  # and the desk, when a form gets past it
        f"{world.base}/console/customers/{rex}/flags",
        form={"csrf_token": token, "flag": "Legal Hold"},
    )
    assert refused.status == 422 and "is not a flag" in refused.text()


def test_a_note_from_the_customer_page_comes_back_to_it(supervisor: Page, world: World) -> None:
    cid = world.customer("Where is my order?")
    supervisor.goto(f"{world.base}/console/customers/{cid}")
    supervisor.fill("#note", "Asked twice about the same order.")
    supervisor.click("#note-form button[type=submit]")
    expect(supervisor).to_have_url(f"{world.base}/console/customers/{cid}")
    expect(supervisor.locator(".notes")).to_contain_text("Asked twice about the same order.")


# -- sanctions ------------------------------------------------------------------------------------


def test_a_supervisor_warns_then_lifts_the_warning(supervisor: Page, world: World) -> None:
    cid = world.customer()
    supervisor.goto(f"{world.base}/console/customers/{cid}")
    expect(supervisor.locator("#sanction-level option")).to_have_text(["warn", "restrict", "block"])
    supervisor.select_option("#sanction-level", "warn")
    supervisor.fill("#sanction-reason", "Insulted the agent twice")
    supervisor.click("#sanction-form button[type=submit]")
    expect(flash(supervisor)).to_have_text("Warning recorded.")
    item = supervisor.locator(".sanctions li", has_text="Insulted the agent twice")
    expect(item.locator(".state")).to_have_text("active")
    expect(item).to_contain_text("by sam")
    item.locator("input[name=reason]").fill("Apologised on the phone")
    item.locator("button", has_text="Lift").click()
    expect(flash(supervisor)).to_have_text("The warn was lifted.")
    item = supervisor.locator(".sanctions li", has_text="Insulted the agent twice")
    expect(item.locator(".state")).to_have_text("lifted")
    expect(item.locator("form")).to_have_count(0)
    # a restriction with minutes says until when
    supervisor.select_option("#sanction-level", "restrict")
    supervisor.fill("#sanction-reason", "Cooling off")
    supervisor.fill("#sanction-minutes", "90")
    supervisor.click("#sanction-form button[type=submit]")
    expect(flash(supervisor)).to_contain_text("Restriction in force until")
    expect(supervisor.locator(".sanctions li", has_text="Cooling off")).to_contain_text("in force")


# -- what agents see ------------------------------------------------------------------------------


def test_an_agent_reads_flags_warns_and_cannot_open_the_audit_log(
    agent: Page, world: World
) -> None:
    cid = world.customer()
    customers.add_flag(world.desk, cid, "vip", user=world.users["sam"], now=now())
    agent.goto(f"{world.base}/console/customers/{cid}")
    expect(agent.locator("nav.nav a")).to_have_text(
        ["Inbox", "Escalations", "Follow-ups", "Customers", "Knowledge", "Training"]
    )
    expect(agent.locator(".flag-list li[data-flag='vip']")).to_be_visible()
    expect(agent.locator("#flag-form")).to_have_count(0)
    expect(agent.locator(".flag-list button")).to_have_count(0)
    expect(agent.locator("#sanction-level option")).to_have_text(["warn"])
    agent.fill("#sanction-reason", "Shouted at me")
    agent.click("#sanction-form button[type=submit]")
    expect(flash(agent)).to_have_text("Warning recorded.")
    expect(agent.locator(".lift-form")).to_have_count(0)  # lifting is for supervisors
    token = agent.get_attribute("meta[name=csrf-token]", "content") or ""
    for url, form in (
        (f"/console/customers/{cid}/flags", {"flag": "fraud_risk"}),
        (f"/console/customers/{cid}/flags/remove", {"flag": "vip"}),
        (f"/console/customers/{cid}/sanctions", {"level": "block", "reason": "x"}),
    ):
        r = agent.request.post(f"{world.base}{url}", form={"csrf_token": token, **form})
        assert r.status == 403, (url, r.status)
        assert "needs supervisor or admin" in r.text()
    assert [f["name"] for f in customers.profile(world.desk, cid, now=now())["flags"]] == ["vip"]
    response = agent.goto(f"{world.base}/console/audit")
    assert response is not None and response.status == 403
    expect(agent.locator("#error-title")).to_have_text("Not allowed")
    assert agent.request.get(f"{world.base}/console/audit.csv").status == 403


# -- the audit log --------------------------------------------------------------------------------


def test_audit_log_filters_and_downloads_the_rows_as_csv(supervisor: Page, world: World) -> None:
    cid = world.customer("Hello, where is my order?")
    sam = world.users["sam"]
    records.add_sanction(world.desk, cid, "warn", '=HYPERLINK("http://evil")', user=sam, now=now())
    customers.add_flag(world.desk, cid, "chargeback", user=sam, now=now())
    trail = audit_log.page(world.desk, AuditFilter(customer_id=cid), user=sam)["items"]
    assert {"sanction.active", "customer.flagged", "customer.created"} <= {e["kind"] for e in trail}

    supervisor.goto(f"{world.base}/console/")
    supervisor.click("nav.nav a:text-is('Audit')")
    expect(supervisor.locator("h1")).to_contain_text("Audit log")
    supervisor.fill("#f-customer", str(cid))
    supervisor.fill("#f-kind", "sanction.")
    supervisor.fill("#f-actor", "sam")
    supervisor.fill("#f-from", f"{now():%Y-%m-%d}")
    supervisor.click("#audit-filters button[type=submit]")
    rows = supervisor.locator("table.audit tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.locator("td.kind")).to_have_text("sanction.active")
    expect(rows.locator("td.reason")).to_have_text('=HYPERLINK("http://evil")')
    expect(supervisor.locator("#f-kind")).to_have_value("sanction.")  # the form keeps the filters
    supervisor.fill("#f-kind", "customer.")
    supervisor.fill("#f-actor", "")
    supervisor.click("#audit-filters button[type=submit]")
    expect(rows.locator("td.kind")).to_have_text(
        [e["kind"] for e in trail if e["kind"].startswith("customer.")]
    )
    shot(supervisor, "audit")

    supervisor.fill("#f-kind", "")
    supervisor.click("#audit-filters button[type=submit]")
    expect(rows).to_have_count(len(trail))
    with supervisor.expect_download() as info:
        supervisor.click("#audit-csv")
    download = info.value
    assert re.fullmatch(r"gracedesk-audit-\d{8}-\d{6}\.csv", download.suggested_filename)
    with open(download.path(), encoding="utf-8", newline="") as f:
        table = list(csv.reader(f))
    assert table[0] == ["at", "actor", "kind", "conversation_id", "customer_id", "reason", "detail"]
    assert [r[2] for r in table[1:]] == [e["kind"] for e in trail]  # newest first, all of them
    assert {r[4] for r in table[1:]} == {str(cid)}
    warned = next(r for r in table[1:] if r[2] == "sanction.active")
    assert warned[5] == "'" + '=HYPERLINK("http://evil")'  # never a formula in a spreadsheet


def test_a_bad_audit_filter_is_a_friendly_422(supervisor: Page, world: World) -> None:
    response = supervisor.goto(f"{world.base}/console/audit?from=2026-12-02&to=2026-12-01")
    assert response is not None and response.status == 422
    expect(supervisor.locator(".error-message")).to_contain_text("'from' must come before 'to'")
