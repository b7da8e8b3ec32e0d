"""The knowledge base in the console, in real headless Chromium against a live server.

The desk holds the starter set that ``gracedesk serve --demo`` imports. A customer who was never
told that returns close after 30 days gets suggested articles on the conversation page, and a
click puts the passage in the draft; a supervisor edits an article and its new version appears
with the change; an agent reads but has no editor. Screenshots for docs/knowledge.md are
written only when ``GRACEDESK_SCREENSHOTS=1``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from gracedesk.service import knowledge, protect, views
from gracedesk.service.build import build_desk
from gracedesk.service.desk import CustomerRef, Desk, Incoming
from gracedesk.settings import Settings
from gracedesk.store.tables import User
from gracedesk.web import auth
from gracedesk.web.app import create_app

from .live import serve_in_thread
from .test_console import PASSWORD, login, now, shot

LATE_RETURN = (
    "Why can't I return my jacket and get a refund? I bought it 35 days ago and nobody told "
    "me there was a 30 day limit."
)


@dataclass
class KbWorld:
    base: str
    desk: Desk
    users: dict[str, User]
    states: dict[str, Any]

    def converse(self, text: str) -> int:
        ref = CustomerRef(f"c-{uuid.uuid4().hex[:8]}", "Casey Doe", "casey@example.org")
        return self.desk.post_message(Incoming(ref, text), actor=None, now=now()).conversation_id


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, browser: Browser) -> Iterator[KbWorld]:
    settings = Settings(home=tmp_path_factory.mktemp("console-kb"))
    desk = build_desk(settings)
    knowledge.import_dir(desk, knowledge.starter_dir(), actor="demo", now=now())
    users = {
        name: auth.create_user(desk.store, name, role=role, now=now(), password=PASSWORD)[0]
        for name, role in (("ana", "agent"), ("sam", "supervisor"))
    }
    protect.set_team_masking(desk, users["sam"], False, now())
    with serve_in_thread(create_app(settings, desk=desk)) as base:
        yield KbWorld(base, desk, users, {})


def signed_in(browser: Browser, world: KbWorld, name: str) -> Iterator[Page]:
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
    errors: list[str] = []  # Chromium reports each Content-Security-Policy violation here
    try:
        page = context.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        yield page
    finally:
        context.close()
    blocked = [e for e in errors if "Content Security Policy" in e]
    assert not blocked, blocked


@pytest.fixture
def agent(browser: Browser, world: KbWorld) -> Iterator[Page]:
    yield from signed_in(browser, world, "ana")


@pytest.fixture
def supervisor(browser: Browser, world: KbWorld) -> Iterator[Page]:
    yield from signed_in(browser, world, "sam")


def test_a_customer_who_did_not_know_the_policy_gets_suggested_articles(
    agent: Page, world: KbWorld
) -> None:
    conv = world.converse(LATE_RETURN)
    agent.goto(f"{world.base}/console/conversations/{conv}")
    box = agent.locator("#kb-suggested")
    expect(box.locator("h2")).to_contain_text("Suggested articles")
    items = box.locator("li.kb-suggestion")
    assert 1 <= items.count() <= 3
    ids = items.evaluate_all("xs => xs.map(x => x.dataset.article)")
    assert "returns-and-replacements" in ids, ids
    current = {a.id: a.version for a in knowledge.list_articles(world.desk)}
    returns = box.locator("li[data-article='returns-and-replacements']")
    version = current["returns-and-replacements"]
    expect(returns.locator(".kb-cite")).to_contain_text(
        f"returns-and-replacements, version {version}"
    )
    expect(returns.locator(".kb-cite a")).to_have_attribute(
        "href", f"/console/kb/returns-and-replacements?version={version}"
    )
    shot(agent, "kb-suggested")
    # a click puts the passage in the draft (console.js, no inline script), and the coach reads it
    passage = returns.locator("button.kb-insert").get_attribute("data-phrase") or ""
    assert len(passage) > 40 and "**" not in passage
    agent.fill("#draft", "I'm sorry nobody explained this.")
    agent.click("#draft")
    agent.keyboard.press("End")
    returns.locator("button.kb-insert").click()
    expect(agent.locator("#draft")).to_have_value(f"I'm sorry nobody explained this. {passage}")
    agent.click(".reply-form button[type=submit]")
    expect(agent.locator(".flash-success")).to_contain_text("Reply sent")
    detail = views.conversation_detail(world.desk, conv, user=world.users["sam"], now=now())
    reply = detail["messages"][-1]
    assert reply["author"] == "agent" and passage in reply["text"]
    shared = knowledge.shared_articles(world.desk, conv)
    assert [(a.article_id, a.message_id) for a in shared] == [
        ("returns-and-replacements", reply["id"])
    ]


def test_no_articles_for_a_message_that_needs_none(agent: Page, world: KbWorld) -> None:
    conv = world.converse("Thank you so much, the new router works perfectly!")
    agent.goto(f"{world.base}/console/conversations/{conv}")
    expect(agent.locator("#reply-title")).to_be_visible()
    expect(agent.locator("#kb-suggested")).to_have_count(0)


def test_the_coach_offers_the_article_wording_for_jargon(agent: Page, world: KbWorld) -> None:
    conv = world.converse(LATE_RETURN)
    agent.goto(f"{world.base}/console/conversations/{conv}")
    agent.locator("#draft").press_sequentially("Per our T&Cs your RMA can't be actioned.")
    plain = agent.locator("#coaching .kb-plain").first
    expect(plain).to_be_visible()
    expect(plain).to_contain_text("Or explain it in the words of")
    expect(plain.locator("a")).to_have_attribute("href", re.compile(r"^/console/kb/[a-z0-9-]+\?"))


def test_a_supervisor_edits_an_article_and_a_new_version_appears(
    supervisor: Page, world: KbWorld
) -> None:
    before = knowledge.get_article(world.desk, "delivery-delays")
    supervisor.goto(f"{world.base}/console/kb")
    supervisor.click("nav.nav a:text-is('Knowledge')")
    expect(supervisor.locator("nav.nav a[aria-current='page']")).to_have_text("Knowledge")
    supervisor.click("tr[data-article='delivery-delays'] a")
    expect(supervisor).to_have_url(f"{world.base}/console/kb/delivery-delays")
    supervisor.click("#kb-edit")
    editor = supervisor.locator("#kb-markdown")
    text = editor.input_value()
    assert text == before.markdown
    # a broken front matter comes back in the editor, as typed, with the reason
    supervisor.fill("#kb-markdown", text.replace("audience:", "audiance:"))
    supervisor.click(".kb-editor button[type=submit]")
    expect(supervisor.locator("#kb-error")).to_contain_text("audiance: unknown key")
    expect(supervisor.locator("#kb-markdown")).to_have_value(re.compile(r"audiance: customer"))
    changed = (
        text.rstrip() + "\n\nIf your parcel is late by more than 5 days, we refund the postage.\n"
    )
    supervisor.fill("#kb-markdown", changed)
    supervisor.fill("#kb-reason", "postage refunded for late parcels")
    supervisor.click(".kb-editor button[type=submit]")
    expect(supervisor).to_have_url(f"{world.base}/console/kb/delivery-delays")
    new = before.summary.version + 1
    expect(supervisor.locator(".flash-success")).to_contain_text(f"version {new}")
    expect(supervisor.locator("#kb-shown-version")).to_have_text(str(new))
    expect(supervisor.locator(".kb-body")).to_contain_text("we refund the postage")
    latest = supervisor.locator(f".kb-versions li[data-version='{new}']")
    expect(latest).to_contain_text("user:sam")
    expect(latest).to_contain_text("postage refunded for late parcels")
    added = supervisor.locator(".kb-diff .diff-add", has_text="we refund the postage")
    expect(added).to_have_count(1)
    shot(supervisor, "kb-article")
    supervisor.click(f".kb-versions li[data-version='{before.summary.version}'] a")
    expect(supervisor.locator(".kb-body")).not_to_contain_text("we refund the postage")
    expect(supervisor.locator(".kb-article .badge")).to_contain_text("old version")
    assert knowledge.get_article(world.desk, "delivery-delays").summary.version == new


def test_an_agent_reads_and_searches_but_has_no_editor(agent: Page, world: KbWorld) -> None:
    agent.goto(f"{world.base}/console/kb?q=my+parcel+has+not+arrived")
    expect(agent.locator(".badge", has_text="read-only")).to_be_visible()
    expect(agent.locator("#kb-new")).to_have_count(0)
    hits = agent.locator(".kb-hit")
    expect(hits.first).to_be_visible()
    assert "delivery-delays" in hits.evaluate_all("xs => xs.map(x => x.dataset.article)")
    agent.goto(f"{world.base}/console/kb/refunds")
    expect(agent.locator("#kb-article-title")).to_be_visible()
    expect(agent.locator("#kb-edit")).to_have_count(0)
    assert agent.locator(".kb-body script").count() == 0
    response = agent.goto(f"{world.base}/console/kb/refunds/edit")
    assert response is not None and response.status == 403
    token = agent.get_attribute("meta[name=csrf-token]", "content") or ""
    r = agent.request.post(
        f"{world.base}/console/kb/refunds/edit",
        form={"csrf_token": token, "markdown": "---\nid: refunds\n---\nx\n"},
    )
    assert r.status == 403
    missing = agent.goto(f"{world.base}/console/kb/no-such-article")
    assert missing is not None and missing.status == 404


def test_article_text_is_shown_as_text_never_run(supervisor: Page, world: KbWorld) -> None:
    md = (
        "---\nid: odd-html\ntitle: <b>Bold</b> title\naudience: internal\nupdated: 2026-12-01\n"
        "---\n# Odd\n\n<script>window.pwned = 1</script> <img src=x onerror=alert(1)>\n\n"
        "[click](javascript:window.pwned=2) and **fine**\n"
    )
    knowledge.save_article(world.desk, md, actor=world.users["sam"], reason="test")
    supervisor.goto(f"{world.base}/console/kb/odd-html")
    body = supervisor.locator(".kb-body")
    expect(body).to_contain_text("<script>window.pwned = 1</script>")
    expect(supervisor.locator("#kb-article-title")).to_have_text("<b>Bold</b> title")
    assert body.locator("script, img, a[href^='javascript']").count() == 0
    expect(body.locator("strong")).to_have_text("fine")
    assert supervisor.evaluate("typeof window.pwned") == "undefined"
