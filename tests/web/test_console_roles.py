"""Who may do what in the console, sessions and CSRF: in Chromium and over plain HTTP (httpx).

Approving escalations and the team view are for supervisors and admins; every POST needs the
session's CSRF token; signed-out pages redirect to sign in and signed-out fragments answer 401.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from gracedesk.service import actions
from gracedesk.web.console_session import safe_next

from .test_console import World, now, signed_in
from .test_console import world as world

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def agent(browser: Browser, world: World) -> Iterator[Page]:
    yield from signed_in(browser, world, "ana")


def http_login(client: httpx.Client, name: str) -> str:
    """Sign in over HTTP; returns the session's CSRF token after signing in."""
    found = TOKEN.search(client.get("/console/login").text)
    assert found
    r = client.post(
        "/console/login",
        data={"username": name, "password": "correct horse battery", "csrf_token": found[1]},
    )
    assert r.status_code == 303, r.text
    page = client.get("/console/").text
    after = re.search(r'<meta name="csrf-token" content="([^"]+)">', page)
    assert after
    return after[1]


@pytest.fixture
def client(world: World) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=world.base, follow_redirects=False) as c:
        yield c


# -- roles in the browser ------------------------------------------------------------------------


def test_an_agent_sees_the_queue_read_only_and_cannot_approve(agent: Page, world: World) -> None:
    conv = world.converse("The delivery was late again, the third time this month.")
    esc = actions.escalate(
        world.desk, conv, user=world.users["ana"], reason="Third late delivery", now=now()
    )
    agent.goto(f"{world.base}/console/escalations")
    card = agent.locator(f"article[data-escalation='{esc['id']}']")
    expect(card).to_contain_text("Third late delivery")
    expect(card.locator("button")).to_have_count(0)
    expect(agent.locator(".badge", has_text="read-only")).to_be_visible()
    expect(agent.locator("#sla-title")).to_have_count(0)  # the breach list is for supervisors
    token = agent.get_attribute("meta[name=csrf-token]", "content") or ""
    r = agent.request.post(
        f"{world.base}/console/escalations/{esc['id']}/approve",
        form={"csrf_token": token, "note": "x"},
    )
    assert r.status == 403
    assert "needs supervisor or admin" in r.text()
    pending = [e["id"] for e in world.detail(conv)["escalations"] if e["state"] == "pending"]
    assert esc["id"] in pending


def test_an_agent_cannot_open_the_team_view(agent: Page, world: World) -> None:
    agent.goto(f"{world.base}/console/")
    expect(agent.locator("nav.nav a")).to_have_text(
        ["Inbox", "Escalations", "Follow-ups", "Customers", "Knowledge", "Training"]
    )
    response = agent.goto(f"{world.base}/console/team")
    assert response is not None and response.status == 403
    expect(agent.locator(".error-page h1")).to_have_text("Not allowed")
    expect(agent.locator(".error-page a", has_text="Back to the inbox")).to_be_visible()


def test_a_post_without_the_csrf_token_is_refused(agent: Page, world: World) -> None:
    conv = world.converse("Where is my parcel?")
    agent.goto(f"{world.base}/console/conversations/{conv}")
    url = f"{world.base}/console/conversations/{conv}/reply"
    assert agent.request.post(url, form={"text": "Hello"}).status == 403
    assert agent.request.post(url, form={"text": "Hello", "csrf_token": "forged"}).status == 403
    wrong_header = agent.request.post(url, form={"text": "Hello"}, headers={"X-CSRF-Token": "x"})
    assert wrong_header.status == 403
    assert [m["author"] for m in world.detail(conv)["messages"]] == ["customer"]
    token = agent.get_attribute("meta[name=csrf-token]", "content") or ""
    ok = agent.request.post(url, form={"text": "Hello, I'm on it.", "csrf_token": token})
    assert ok.status == 200  # after the redirect back to the conversation
    assert [m["author"] for m in world.detail(conv)["messages"]] == ["customer", "agent"]


def test_a_signed_out_visitor_signs_in_and_comes_back(page: Page, world: World) -> None:
    conv = world.seeded["c-polly"]
    page.goto(f"{world.base}/console/conversations/{conv}")
    expect(page).to_have_url(re.compile(r"/console/login\?next=/console/conversations/"))
    page.fill("#username", "ana")
    page.fill("#password", "correct horse battery")
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{world.base}/console/conversations/{conv}")
    page.click("form[action='/console/logout'] button")
    expect(page).to_have_url(f"{world.base}/console/login")
    page.goto(f"{world.base}/console/")
    expect(page).to_have_url(re.compile(r"/console/login"))


def test_errors_are_friendly_pages_with_their_status(agent: Page, world: World) -> None:
    missing = agent.goto(f"{world.base}/console/conversations/999999")
    assert missing is not None and missing.status == 404
    expect(agent.locator(".error-page h1")).to_have_text("Not found")
    nowhere = agent.goto(f"{world.base}/console/no-such-page")
    assert nowhere is not None and nowhere.status == 404
    expect(agent.locator(".error-page h1")).to_have_text("Not found")
    conv = world.converse("Please close my account.")
    agent.goto(f"{world.base}/console/conversations/{conv}")
    agent.fill("#fu-due", "2000-01-01T09:00")  # in the past
    agent.fill("#fu-promise", "Too late")
    agent.click("#follow-up-form button[type=submit]")
    expect(agent.locator(".error-page")).to_contain_text("due must be in the future")


# -- sessions and CSRF over HTTP -----------------------------------------------------------------


def test_root_and_signed_out_requests(client: httpx.Client, world: World) -> None:
    assert client.get("/").headers["location"] == "/console/"
    r = client.get("/console/escalations")
    assert (r.status_code, r.headers["location"]) == (
        303,
        "/console/login?next=/console/escalations",
    )
    conv = world.seeded["c-rex"]
    fragment = client.post(
        f"/console/conversations/{conv}/coach", data={"text": "hi"}, headers={"HX-Request": "true"}
    )
    assert fragment.status_code == 401
    assert "sign in again" in fragment.text
    form = client.post(f"/console/conversations/{conv}/reply", data={"text": "hi"})
    assert (form.status_code, form.headers["location"]) == (303, "/console/login")


def test_signing_in_renews_the_csrf_token(client: httpx.Client) -> None:
    before = TOKEN.search(client.get("/console/login").text)
    assert before
    after = http_login(client, "ana")
    assert after != before[1]
    stale = client.post("/console/break", data={"csrf_token": before[1]})
    assert stale.status_code == 403
    assert client.post("/console/break", data={"csrf_token": after}).status_code == 303


def test_sign_in_needs_the_csrf_token_and_the_right_password(client: httpx.Client) -> None:
    r = client.post("/console/login", data={"username": "ana", "password": "correct horse battery"})
    assert r.status_code == 403
    found = TOKEN.search(client.get("/console/login").text)
    assert found
    bad = client.post(
        "/console/login", data={"username": "ana", "password": "nope", "csrf_token": found[1]}
    )
    assert bad.status_code == 401 and "wrong user name or password" in bad.text
    unknown = client.post(
        "/console/login", data={"username": "zed", "password": "nope", "csrf_token": found[1]}
    )
    assert unknown.status_code == 401 and "wrong user name or password" in unknown.text


@pytest.mark.parametrize(
    ("target", "goes_to"),
    [
        ("/console/follow-ups", "/console/follow-ups"),  # a console page: followed
        ("/console/conversations/1?x=1", "/console/conversations/1?x=1"),  # with a query
        ("https://evil.example/console/", "/console/"),  # another site: ignored
        ("//evil.example/console/", "/console/"),  # scheme-relative: ignored
        ("/api/v1/me", "/console/"),  # not the console
        ("/consoleevil", "/console/"),  # only the /console/ tree
        ("/console\\@evil.example", "/console/"),  # backslash tricks
    ],
)
def test_sign_in_returns_only_to_local_console_pages(
    client: httpx.Client, target: str, goes_to: str
) -> None:
    found = TOKEN.search(client.get("/console/login").text)
    assert found
    r = client.post(
        "/console/login",
        data={
            "username": "bo",
            "password": "correct horse battery",
            "csrf_token": found[1],
            "next": target,
        },
    )
    assert (r.status_code, r.headers["location"]) == (303, goes_to)


@pytest.mark.parametrize(
    ("target", "ok"),
    [
        ("/console", True),  # the console itself
        ("/console/team", True),  # a page in it
        ("", False),  # nothing
        ("/console/\r\nSet-Cookie: x=1", False),  # header injection
        ("javascript:alert(1)", False),  # a script URL
        ("/static/console.css", False),  # local, but not the console
    ],
)
def test_safe_next(target: str, ok: bool) -> None:
    assert safe_next(target) is ok
