"""Protecting agents in the console, in real headless Chromium against a live server.

Abusive words never reach an agent's browser until the agent reveals one message (audited); a
supervisor's team default can show them; an agent at the exposure limit gets the break banner
and the next abusive conversation goes to a colleague. One app, desk and server per module.
Screenshots for docs/console.md ("Protecting agents") with ``GRACEDESK_SCREENSHOTS=1``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from playwright.sync_api import Browser, Page, expect

from gracedesk.service import actions, protect, views
from gracedesk.service.build import build_desk
from gracedesk.service.desk import CustomerRef, Incoming
from gracedesk.settings import Settings
from gracedesk.web import auth
from gracedesk.web.app import create_app

from .live import serve_in_thread
from .test_console import PASSWORD, World, now, shot, signed_in

USERS = (
    ("ana", "agent", "Ana Ortiz"),
    ("bo", "agent", "Bo Lind"),
    ("sam", "supervisor", "Sam Reyes"),
)
ABUSIVE = "You stupid idiot, fuck off and refund me. Third time my router broke, morons."
HOSTILE = "You are pathetic clowns, useless morons. Refund me! ({})"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, browser: Browser) -> Iterator[World]:
    settings = Settings(home=tmp_path_factory.mktemp("protect"))
    desk = build_desk(settings)
    users = {
        name: auth.create_user(
            desk.store, name, role=role, now=now(), password=PASSWORD, display_name=display
        )[0]
        for name, role, display in USERS
    }
    with serve_in_thread(create_app(settings, desk=desk)) as base:
        yield World(base, desk, users, {})


@pytest.fixture
def agent(browser: Browser, world: World) -> Iterator[Page]:
    yield from signed_in(browser, world, "ana")


@pytest.fixture
def supervisor(browser: Browser, world: World) -> Iterator[Page]:
    yield from signed_in(browser, world, "sam")


def abusive_words(world: World, conv: int) -> list[str]:
    """The words the analysis found abusive, as stored (the test's own unmasked view)."""
    evidence = world.detail(conv)["messages"][0]["signals"]["evidence"]
    found = {
        w.lower() for e in evidence if e["signal"].startswith("abuse.") for w in e["text"].split()
    }
    assert found, "the analysis finds the abuse"
    return sorted(found)


def present(html: str, words: list[str]) -> list[str]:
    """The words found in the page (whole words, any case)."""
    return [w for w in words if re.search(rf"(?<!\w){re.escape(w)}(?!\w)", html, re.I)]


def test_abusive_words_reach_the_browser_only_once_revealed(agent: Page, world: World) -> None:
    protect.set_team_masking(world.desk, world.users["sam"], True, now())
    conv = world.converse(ABUSIVE, name="Rex Hammond")
    words = abusive_words(world, conv)
    mid = world.detail(conv)["messages"][0]["id"]

    agent.goto(f"{world.base}/console/")  # the subject in the inbox is masked too
    expect(agent.locator(f"tr[data-conversation='{conv}'] td.subject")).to_contain_text("[")
    assert present(agent.content(), words) == []

    agent.goto(f"{world.base}/console/conversations/{conv}")
    message = agent.locator(f"#m{mid} .message")
    expect(message.locator("mark.ev-abuse").first).to_contain_text("[insult")
    assert present(agent.content(), words) == [], "raw abusive words were sent to the browser"
    shot(agent, "masked")

    agent.locator(f"#m{mid} form.reveal button").click()  # htmx: this message only
    expect(agent.locator(f"#m{mid} .revealed")).to_be_visible()
    expect(message).to_have_text(ABUSIVE)
    assert set(present(agent.content(), words)) == set(words)
    shot(agent, "revealed")
    log = views.audit_log(world.desk, user=world.users["sam"], conversation_id=conv)
    revealed = [
        (e["actor"], e["detail"]["message_id"]) for e in log if e["kind"] == "message.revealed"
    ]
    assert revealed == [("user:ana", mid)]

    agent.reload()  # a reveal lasts for that answer only
    expect(agent.locator(f"#m{mid} form.reveal")).to_be_visible()
    assert present(agent.content(), words) == []

    # without htmx the form answers with the whole page, that message revealed; never without
    # the session's CSRF token
    url = f"{world.base}/console/conversations/{conv}/messages/{mid}/reveal"
    token = agent.get_attribute("meta[name=csrf-token]", "content") or ""
    assert agent.request.post(url, form={"csrf_token": "forged"}).status == 403
    whole = agent.request.post(url, form={"csrf_token": token})
    assert whole.status == 200 and "<html" in whole.text()
    assert set(present(whole.text(), words)) == set(words)


def test_a_supervisor_turns_the_team_default_off(
    agent: Page, supervisor: Page, browser: Browser, world: World
) -> None:
    protect.set_team_masking(world.desk, world.users["sam"], True, now())
    protect.set_user_masking(world.desk, world.users["bo"], True, now())  # bo chose masking
    conv = world.converse(ABUSIVE, name="Rex Hammond")
    words = abusive_words(world, conv)

    supervisor.goto(f"{world.base}/console/team")
    box = supervisor.locator("#team-mask-abuse")
    expect(box).to_be_checked()
    box.uncheck()
    supervisor.click("#team-masking-form button[type=submit]")
    expect(supervisor.locator(".flash-success")).to_contain_text("shown by default")
    expect(supervisor.locator("#team-mask-abuse")).not_to_be_checked()
    assert protect.team_setting(world.desk)["updated_by"] == "sam"

    agent.goto(f"{world.base}/console/conversations/{conv}")  # ana follows the team
    expect(agent.locator(".thread .msg-customer .message")).to_have_text(ABUSIVE)
    assert set(present(agent.content(), words)) == set(words)
    expect(agent.locator("form.reveal")).to_have_count(0)
    for bo in signed_in(browser, world, "bo"):  # bo's own choice stands
        bo.goto(f"{world.base}/console/conversations/{conv}")
        assert present(bo.content(), words) == []
    protect.set_team_masking(world.desk, world.users["sam"], True, now())


def test_the_agent_at_the_exposure_limit_gets_the_break_banner_and_no_more_abuse(
    browser: Browser, supervisor: Page, world: World
) -> None:
    desk, bo, at = world.desk, world.users["bo"], now() - timedelta(minutes=5)
    for i in range(3):  # bo answers three abusive customers
        conv = world.converse(HOSTILE.format(i))
        actions.send_reply(desk, conv, "I'm sorry. I'll look into it.", user=bo, now=at)
    ref = CustomerRef("c-next", "Nell Abbott")
    held = desk.post_message(Incoming(ref, "Where is my parcel?"), actor=None, now=now())
    actions.assign(desk, held.conversation_id, user=bo, assignee=None, now=now())
    desk.post_message(Incoming(ref, HOSTILE.format("again")), actor=None, now=now())
    rotated = world.detail(held.conversation_id)
    assert rotated["assignee"] == "ana"

    for page in signed_in(browser, world, "bo"):
        page.goto(f"{world.base}/console/")
        banner = page.locator(".wellbeing.over-limit")
        expect(banner).to_contain_text("We suggest a break")
        expect(banner).to_contain_text("check-in with your supervisor")
        shot(page, "wellbeing-banner")
        page.goto(f"{world.base}/console/conversations/{held.conversation_id}")
        expect(page.locator(".wellbeing.over-limit")).to_be_visible()
        decision = page.locator(".decisions li", has_text="wellbeing.rotation")
        expect(decision).to_contain_text("routed to ana, the least exposed")
        expect(page.locator(".conv-head")).to_contain_text("Assignee: ana")

    supervisor.goto(f"{world.base}/console/team")
    row = supervisor.locator("tr[data-agent='bo']")
    expect(row.locator("td.rotation")).to_contain_text("at the limit")
    expect(row.locator("td.rotation")).to_contain_text("1 routed away")
    expect(row.locator(".nudge-text")).to_contain_text("check in with them")
    expect(supervisor.locator("tr[data-agent='ana'] td.rotation")).to_contain_text("0/3")
    shot(supervisor, "team-protect")
