"""The console end to end, in real headless Chromium against a live server.

One app, desk and server per module (``world``); tests that change a conversation make their own
(``World.converse``), so they do not depend on each other's order. Screenshots for docs/console.md
are written only when ``GRACEDESK_SCREENSHOTS=1``.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from gracedesk.service import actions, protect, views
from gracedesk.service.build import build_desk
from gracedesk.service.desk import CustomerRef, Desk, Incoming
from gracedesk.settings import Settings
from gracedesk.store.tables import Notification, User
from gracedesk.web import auth
from gracedesk.web.app import create_app

from .live import serve_in_thread

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "docs" / "screenshots"
PASSWORD = "correct horse battery"
USERS = (
    ("ana", "agent", "Ana Ortiz"),
    ("bo", "agent", "Bo Lind"),
    ("sam", "supervisor", "Sam Reyes"),
)

HOSTILE = "You useless idiots, this is the worst service ever. Fix my broken router today!"
POLITE = "Hello, could you help me update my delivery address please? Thank you!"
LEE = "I was charged twice this month. I want a refund or I'll call my lawyer."
KIM = "Still no answer after three weeks. This is so frustrating, where is my order?"
SEED = (  # the inbox the screenshots show: (customer, name, text, days ago)
    ("c-rex", "Rex Hammond", HOSTILE, 0),
    ("c-lee", "Lee Park", LEE, 0),
    ("c-kim", "Kim Ito", KIM, 0),
    ("c-polly", "Polly Green", POLITE, 0),
    ("c-old", "Oli Novak", "Is there any news about my warranty claim?", 7),  # reply overdue
)


@dataclass
class World:
    base: str
    desk: Desk
    users: dict[str, User]
    seeded: dict[str, int]
    states: dict[str, Any] = field(default_factory=dict)  # browser storage state per user

    def converse(self, text: str, *, name: str = "Casey Doe") -> int:
        """A new conversation from a new customer; returns its id."""
        ref = CustomerRef(f"c-{uuid.uuid4().hex[:8]}", name, "casey@example.org")
        posted = self.desk.post_message(Incoming(customer=ref, text=text), actor=None, now=now())
        return posted.conversation_id

    def detail(self, conv_id: int) -> dict[str, Any]:
        return views.conversation_detail(self.desk, conv_id, user=self.users["sam"], now=now())


def now() -> datetime:
    return datetime.now(UTC)


def shot(page: Page, name: str) -> None:
    if os.environ.get("GRACEDESK_SCREENSHOTS") == "1":
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"console-{name}.png"), full_page=True)


def login(page: Page, base: str, name: str, password: str = PASSWORD) -> None:
    page.goto(f"{base}/console/login")
    page.fill("#username", name)
    page.fill("#password", password)
    page.click("form[action='/console/login'] button[type=submit]")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, browser: Browser) -> Iterator[World]:
    settings = Settings(home=tmp_path_factory.mktemp("console"))
    desk = build_desk(settings)
    users = {
        name: auth.create_user(
            desk.store, name, role=role, now=now(), password=PASSWORD, display_name=display
        )[0]
        for name, role, display in USERS
    }
    # these tests read customers' words as written; masking them is test_console_protect.py's
    protect.set_team_masking(desk, users["sam"], False, now())
    seeded = {}
    for ext, name, text, days in SEED:
        ref = CustomerRef(ext, name, f"{ext}@example.org")
        posted = desk.post_message(
            Incoming(customer=ref, text=text), actor=None, now=now() - timedelta(days=days)
        )
        seeded[ext] = posted.conversation_id
    with serve_in_thread(create_app(settings, desk=desk)) as base:
        yield World(base, desk, users, seeded)


def signed_in(browser: Browser, world: World, name: str) -> Iterator[Page]:
    """A fresh browser context signed in as ``name`` (signing in through the form once)."""
    if name not in world.states:
        context = browser.new_context()
        page = context.new_page()
        login(page, world.base, name)
        expect(page).to_have_url(f"{world.base}/console/")
        world.states[name] = context.storage_state()
        context.close()
    context = browser.new_context(
        storage_state=world.states[name], viewport={"width": 1360, "height": 900}
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


# -- sign-in and inbox ----------------------------------------------------------------------------


def test_login_shows_an_error_for_a_wrong_password_then_lands_in_the_inbox(
    page: Page, world: World
) -> None:
    login(page, world.base, "ana", "not the password")
    expect(page.locator(".flash-error[role=alert]")).to_contain_text("wrong user name or password")
    expect(page.locator("#username")).to_have_value("ana")  # refilled, password not
    login(page, world.base, "ana")
    expect(page).to_have_url(f"{world.base}/console/")
    expect(page.locator("h1")).to_contain_text("Inbox")
    expect(page.locator(".userbox .user-name")).to_have_text("ana")


def test_inbox_ranks_a_hostile_customer_above_a_polite_one(agent: Page, world: World) -> None:
    agent.goto(f"{world.base}/console/")
    ids = [
        int(x)
        for x in agent.locator("tbody tr").evaluate_all("rs => rs.map(r => r.dataset.conversation)")
    ]
    hostile, polite = world.seeded["c-rex"], world.seeded["c-polly"]
    assert ids.index(hostile) < ids.index(polite), ids
    row = agent.locator(f"tr[data-conversation='{hostile}']")
    expect(row.locator(".risk.badge-high")).to_be_visible()
    expect(row.locator("td.subject a")).to_have_attribute(
        "href", f"/console/conversations/{hostile}"
    )
    expect(agent.locator("thead th")).to_have_text(
        [
            "Risk",
            "Priority",
            "Customer",
            "Subject",
            "Status",
            "Labels",
            "Stage",
            "Assignee",
            "Reply due",
        ]
    )
    late = agent.locator(f"tr[data-conversation='{world.seeded['c-old']}'] td.due .overdue")
    expect(late).to_contain_text("overdue")
    expect(agent.locator(f"tr[data-conversation='{polite}'] td.due .overdue")).to_have_count(0)
    shot(agent, "inbox")
    agent.click("a:text-is('Reply due')")
    expect(agent).to_have_url(re.compile(r"sort=sla"))
    expect(agent.locator("a[aria-current='true']")).to_have_text("Reply due")
    expect(agent.locator(f"tr[data-conversation='{polite}']")).to_be_visible()


# -- the conversation -----------------------------------------------------------------------------


def test_conversation_highlights_the_evidence_and_explains_decisions(
    agent: Page, world: World
) -> None:
    conv = world.seeded["c-rex"]
    agent.goto(f"{world.base}/console/conversations/{conv}")
    insult = agent.locator(".thread .msg-customer mark.ev-abuse", has_text="idiots")
    expect(insult).to_have_count(1)
    assert "abuse." in (insult.get_attribute("title") or "")
    # the highlighted text is exactly the customer's text, nothing added or lost
    expect(agent.locator(".thread .msg-customer .message")).to_have_text(HOSTILE)
    expected = [d["rule_id"] for d in world.detail(conv)["decisions"]]
    assert expected, "the default policy decides something about abuse"
    expect(agent.locator(".decisions .rule-id")).to_have_text(expected)
    expect(agent.locator(".decisions .reason").first).not_to_be_empty()
    expect(agent.locator(".signals")).to_contain_text("abusive")
    expect(agent.locator(".guidance .instruction")).not_to_be_empty()


def test_the_coach_comments_on_a_draft_as_it_is_typed(agent: Page, world: World) -> None:
    conv = world.seeded["c-rex"]  # only read here: the draft is never sent
    url = f"{world.base}/console/conversations/{conv}"
    agent.goto(url)
    expect(agent.locator("#coaching")).to_contain_text("Start typing")
    agent.locator("#draft").press_sequentially("Calm down. That's our policy.")
    findings = agent.locator("#coaching .finding")
    expect(findings.first).to_be_visible()
    expect(agent.locator("#coaching .finding-dismissive .offending")).to_have_text("Calm down")
    expect(agent.locator("#coaching .finding-excuse")).to_contain_text("That's our policy")
    expect(agent.locator("#coaching .has-no", has_text="empathy")).to_be_visible()
    expect(agent.locator("#coaching .suggestion").first).to_contain_text("Try:")
    expect(agent).to_have_url(url)  # nothing was submitted
    assert [m["author"] for m in world.detail(conv)["messages"]] == ["customer"]
    shot(agent, "conversation")


def test_a_click_on_a_suggested_phrase_puts_it_in_the_draft(agent: Page, world: World) -> None:
    conv = world.converse("The parcel arrived broken and I'm really upset about it.")
    agent.goto(f"{world.base}/console/conversations/{conv}")
    phrase = agent.locator("button.phrase").first
    text = phrase.get_attribute("data-phrase") or ""
    assert text
    phrase.click()
    expect(agent.locator("#draft")).to_have_value(text)
    expect(agent.locator("#coaching .score")).to_be_visible()  # the coach saw the new draft


def test_a_reply_with_a_promise_creates_a_follow_up(agent: Page, world: World) -> None:
    conv = world.converse("My invoice is wrong again. Can someone finally fix it?")
    agent.goto(f"{world.base}/console/conversations/{conv}")
    agent.fill("#draft", "I'm sorry about the wrong invoice. I'll email you by 5pm tomorrow.")
    agent.click(".reply-form button[type=submit]")
    expect(agent.locator(".flash-success")).to_contain_text("1 promise(s) became follow-ups")
    promise = agent.locator(".follow-ups .fu-open .promise")
    expect(promise).to_contain_text("I'll email you by 5pm tomorrow")
    expect(agent.locator(".thread .msg-agent")).to_contain_text("wrong invoice")
    agent.goto(f"{world.base}/console/follow-ups")
    row = agent.locator("tr[data-follow-up]", has_text="I'll email you by 5pm tomorrow")
    expect(row).to_have_count(1)
    row.locator("button", has_text="Mark done").click()
    expect(agent.locator(".flash-success")).to_contain_text("marked done")
    expect(
        agent.locator("tr[data-follow-up]", has_text="I'll email you by 5pm tomorrow")
    ).to_have_count(0)


def test_a_manual_follow_up_and_a_customer_note(agent: Page, world: World) -> None:
    conv = world.converse("Could you call me back about my contract?")
    agent.goto(f"{world.base}/console/conversations/{conv}")
    agent.fill("#fu-promise", "Call back about the contract")
    agent.click("#follow-up-form button[type=submit]")
    expect(agent.locator(".follow-ups .promise")).to_have_text(["Call back about the contract"])
    agent.fill("#note", "Prefers phone calls in the morning.")
    agent.click(".customer button:text-is('Add note')")
    expect(agent.locator(".customer .notes")).to_contain_text("Prefers phone calls in the morning.")


def test_escalation_reaches_the_supervisor_queue_with_its_packet_and_is_approved(
    agent: Page, supervisor: Page, world: World
) -> None:
    conv = world.converse("I asked three times for the cancellation. Please stop charging me.")
    agent.goto(f"{world.base}/console/conversations/{conv}")
    agent.fill("#esc-reason", "Third contact about the same cancellation")
    agent.select_option("#esc-target", "supervisor")
    agent.click("#escalate-form button[type=submit]")
    expect(agent.locator(".flash-success")).to_contain_text("Escalated to supervisor")
    expect(agent.locator(".escalations")).to_contain_text("pending")

    supervisor.goto(f"{world.base}/console/escalations")
    card = supervisor.locator(
        "article.escalation", has_text="Third contact about the same cancellation"
    )
    expect(card).to_have_count(1)
    packet = card.locator("dl.packet")
    for heading in (
        "Issue",
        "What happened",
        "Wants",
        "Evidence",
        "Already tried",
        "History",
        "Opening line",
    ):
        expect(packet.locator("dt", has_text=heading)).to_have_count(1)
    expect(packet.locator(".opening")).not_to_be_empty()
    expect(packet).to_contain_text("cancellation")
    breaches = supervisor.locator("table.breaches tbody tr")
    expect(breaches.filter(has_text="warranty claim")).to_have_count(1)
    shot(supervisor, "escalations")
    card.locator("input[name=note]").fill("I'll call them myself.")
    card.locator("button", has_text="Approve").click()
    expect(supervisor.locator(".flash-success")).to_contain_text(
        "approved: the conversation is yours now"
    )
    expect(supervisor.locator("article.escalation", has_text="Third contact")).to_have_count(0)
    decided = [e for e in world.detail(conv)["escalations"] if e["target"] == "supervisor"]
    assert [(e["state"], e["note"]) for e in decided] == [("approved", "I'll call them myself.")]
    assert world.detail(conv)["assignee"] == "sam"


def test_approving_says_the_conversation_is_yours_only_when_it_changes_hands(
    supervisor: Page, world: World
) -> None:
    conv = world.converse("My invoice is wrong again, I need someone senior to look at it.")
    actions.assign(world.desk, conv, user=world.users["sam"], assignee=None, now=now())
    esc = actions.escalate(
        world.desk, conv, user=world.users["ana"], reason="Wrong invoice again", now=now()
    )
    supervisor.goto(f"{world.base}/console/escalations")
    supervisor.locator(f"article[data-escalation='{esc['id']}'] button", has_text="Approve").click()
    flash = supervisor.locator(".flash-success")
    expect(flash).to_contain_text(f"Escalation {esc['id']} approved.")
    expect(flash).not_to_contain_text("yours now")  # it was sam's already
    assert world.detail(conv)["assignee"] == "sam"


def test_resolving_sends_the_survey_to_the_customer_only_and_it_takes_a_score(
    agent: Page, page: Page, world: World
) -> None:
    conv = world.converse("The replacement card works now, thanks.")
    agent.goto(f"{world.base}/console/conversations/{conv}")
    agent.fill("#resolution", "Sent a replacement card; customer confirmed it works.")
    agent.click("#resolve-form button[type=submit]")
    expect(agent.locator(".flash-success")).to_contain_text("Resolved")
    expect(agent.locator("main")).not_to_contain_text("/csat/")  # the link is the customer's
    with world.desk.store.read() as s:
        sent = s.scalars(
            select(Notification).where(
                Notification.event == "csat.request",
                Notification.payload["conversation_id"].as_integer() == conv,
            )
        ).one()
    path = urlsplit(sent.payload["csat_url"]).path
    assert path.startswith("/csat/") and sent.recipients == ["casey@example.org"]
    # the agent, signed in, may not answer it
    own = agent.request.post(f"{world.base}{path}", form={"score": "5"})
    assert own.status == 403 and "only the customer" in own.text()
    # the customer, not signed in, answers the survey
    page.goto(f"{world.base}{path}")
    expect(page.locator("nav")).to_have_count(0)
    page.check("input[name=score][value='4']")
    page.fill("#comment", "Quick and friendly.")
    page.click("form button[type=submit]")
    expect(page.locator("h1")).to_have_text("Thank you!")
    expect(page.locator(".csat")).to_contain_text("4/5")
    agent.reload()
    expect(agent.locator("#resolved-title")).to_be_visible()
    expect(agent.locator("main")).to_contain_text("answered 4/5")
    # a second answer is refused, the link itself now says so, and an unknown token is a 404
    second = page.request.post(f"{world.base}{path}", form={"score": "1"})
    assert second.status == 409 and "already been answered" in second.text()
    again = page.goto(f"{world.base}{path}")
    assert again is not None and again.status == 409
    expect(page.locator(".error-page")).to_contain_text("already been answered")
    unknown = page.goto(f"{world.base}/csat/no-such-survey-token")
    assert unknown is not None and unknown.status == 404


def test_customer_markup_is_shown_as_text_and_never_runs(agent: Page, world: World) -> None:
    text = "Hi <script>alert(1)</script> and <img src=x onerror=alert(1)> you idiots"
    conv = world.converse(text, name="<b>Mallory</b>")
    dialogs: list[str] = []
    agent.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    agent.goto(f"{world.base}/console/conversations/{conv}")
    agent.wait_for_load_state("load")
    message = agent.locator(".thread .msg-customer .message")
    expect(message).to_have_text(text)
    assert agent.locator(".thread img, .thread script, main b").count() == 0
    expect(agent.locator(".conv-head")).to_contain_text("<b>Mallory</b>")
    agent.goto(f"{world.base}/console/")  # the subject in the inbox, too
    expect(agent.locator(f"tr[data-conversation='{conv}'] td.subject")).to_contain_text("<script>")
    agent.wait_for_load_state("load")
    assert dialogs == []


# -- supervisors: the team -----------------------------------------------------------------------


def test_team_view_shows_exposure_to_abuse_with_a_nudge_and_breaks_clear_it(
    browser: Browser, supervisor: Page, world: World
) -> None:
    for name, n in (("bo", 3), ("ana", 1)):  # bo answers three abusive customers, ana one
        for i in range(n):
            conv = world.converse(f"You are pathetic clowns, useless morons. Refund me! ({i})")
            reply = "I'm sorry. I'll look into it."
            actions.send_reply(world.desk, conv, reply, user=world.users[name], now=now())
    supervisor.goto(f"{world.base}/console/team")
    row = supervisor.locator("tr[data-agent='bo']")
    expect(row.locator("td").nth(3)).to_have_text("3")
    expect(row.locator(".nudge-text")).to_contain_text("suggest a break")
    expect(supervisor.locator("tr[data-agent='ana'] .nudge-text")).to_contain_text("check in")
    expect(supervisor.locator("tr[data-agent='sam'] .nudge")).to_have_text("—")
    shot(supervisor, "team")

    for page in signed_in(browser, world, "bo"):  # bo sees the nudge and takes a break
        page.goto(f"{world.base}/console/")
        expect(page.locator(".wellbeing")).to_contain_text("suggest a break")
        page.click(".wellbeing button")
        expect(page.locator(".flash-success")).to_contain_text("Break noted")
        expect(page.locator(".wellbeing")).to_have_count(0)
    supervisor.reload()
    expect(supervisor.locator("tr[data-agent='bo'] .nudge")).to_have_text("—")


def test_a_blocked_customers_message_is_held_out_of_the_inbox_and_released(
    agent: Page, supervisor: Page, world: World
) -> None:
    from gracedesk.service import records

    conv = world.converse("Where is my refund?", name="Blake Stone")
    customer_id = world.detail(conv)["customer"]["id"]
    records.add_sanction(
        world.desk, customer_id, "block", "threats", user=world.users["sam"], now=now()
    )
    ref = CustomerRef(world.detail(conv)["customer"]["external_id"], "Blake Stone")
    held = world.desk.post_message(
        Incoming(customer=ref, text="Answer me <b>now</b> you idiots"), actor=None, now=now()
    )
    assert held.analysis == "held"

    agent.goto(f"{world.base}/console/")
    expect(agent.locator(f"a[href='/console/conversations/{conv}']")).to_have_count(0)

    supervisor.goto(f"{world.base}/console/escalations")
    row = supervisor.locator(f"#held-{held.message_id}")
    expect(row).to_contain_text("Answer me <b>now</b> you idiots")  # shown as text
    supervisor.goto(f"{world.base}/console/conversations/{conv}")
    expect(supervisor.locator(f"#m{held.message_id} .badge", has_text="held")).to_have_count(1)
    expect(supervisor.locator(".msg-system")).to_contain_text("reviewed by a supervisor")
    supervisor.goto(f"{world.base}/console/escalations")
    supervisor.locator(f"#held-{held.message_id} button", has_text="Release").click()
    expect(supervisor.locator(".flash-success")).to_contain_text(
        f"Message {held.message_id} released"
    )
    expect(supervisor.locator(f"#held-{held.message_id}")).to_have_count(0)
    assert world.detail(conv)["status"] != "held"
