"""Users, passwords and time zones in the console, end to end in real headless Chromium.

One app, desk and live server for the module (``world``), with its own users: each test works
on users of its own, so the order does not matter. Screenshots for docs/console.md are written
only when ``GRACEDESK_SCREENSHOTS=1``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Page, expect

from gracedesk.service.build import build_desk
from gracedesk.service.desk import CustomerRef, Desk, Incoming
from gracedesk.settings import Settings
from gracedesk.web import auth
from gracedesk.web.app import create_app
from gracedesk.web.console_render import VIEWER_ZONE, stamped_html, when, when_html, when_text

from .live import serve_in_thread

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "docs" / "screenshots"
PASSWORD = "correct horse battery"
USERS = (  # name, role, display name
    ("ada", "admin", "Ada Admin"),
    ("ana", "agent", "Ana Ortiz"),  # only looks (403)
    ("bo", "agent", "Bo Lind"),  # is deactivated
    ("cy", "agent", "Cy Moreau"),  # changes password and time zone
)
# the customer's message arrives at a known instant: 09:00 UTC is 18:00 in Tokyo (no DST)
KNOWN = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)
KNOWN_UTC = "2026-01-15T09:00:00Z"


@dataclass
class World:
    base: str
    desk: Desk
    conversation: int


def shot(page: Page, name: str) -> None:
    if os.environ.get("GRACEDESK_SCREENSHOTS") == "1":
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"console-{name}.png"), full_page=True)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, browser: Browser) -> Iterator[World]:
    settings = Settings(home=tmp_path_factory.mktemp("console-users"))
    desk = build_desk(settings)
    for name, role, display in USERS:
        auth.create_user(
            desk.store, name, role=role, now=KNOWN, password=PASSWORD, display_name=display
        )
    ref = CustomerRef("c-tz", "Toshi Sato", "toshi@example.org")
    text = "My invoice is wrong for the third month. Please fix it."
    posted = desk.post_message(Incoming(customer=ref, text=text), actor=None, now=KNOWN)
    with serve_in_thread(create_app(settings, desk=desk)) as base:
        yield World(base, desk, posted.conversation_id)


@pytest.fixture
def other(browser: Browser) -> Iterator[Page]:
    """A second browser (its own cookies) for a second person at the same time."""
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    try:
        yield context.new_page()
    finally:
        context.close()


def login(page: Page, base: str, name: str, password: str = PASSWORD) -> None:
    page.goto(f"{base}/console/login")
    page.fill("#username", name)
    page.fill("#password", password)
    page.click("form[action='/console/login'] button[type=submit]")
    expect(page).to_have_url(f"{base}/console/")


def test_agents_get_the_403_page_for_users_and_no_link_to_it(page: Page, world: World) -> None:
    login(page, world.base, "ana")
    expect(page.locator("nav.nav a", has_text="Users")).to_have_count(0)
    answer = page.goto(f"{world.base}/console/users")
    assert answer is not None and answer.status == 403
    expect(page.locator("h1")).to_have_text("Not allowed")
    expect(page.locator(".error-message")).to_contain_text("needs admin")


def test_an_admin_creates_a_user_who_then_signs_in(page: Page, other: Page, world: World) -> None:
    page.set_viewport_size({"width": 1360, "height": 900})
    login(page, world.base, "ada")
    page.click("nav.nav a:text-is('Users')")
    expect(page).to_have_url(f"{world.base}/console/users")
    page.fill("#new-name", "lee")
    page.fill("#new-display", "Lee Park")
    page.fill("#new-email", "lee@example.org")
    page.select_option("#new-role", "supervisor")
    page.click("#invite-form button[type=submit]")
    expect(page.locator("#secret-title")).to_have_text("lee is created")
    password = page.locator("#shown-password").inner_text()
    expect(page.locator("#shown-token")).to_have_text(re.compile(r"^[\w-]{40,}$"))
    expect(page.locator("tr[data-user='lee'] select[name=role]")).to_have_value("supervisor")
    shot(page, "users")
    page.reload()  # a GET now: the secrets are not shown again
    expect(page.locator("#secret")).to_have_count(0)

    login(other, world.base, "lee", password)
    expect(other.locator(".userbox .user-name")).to_have_text("lee")
    expect(other.locator("nav.nav a", has_text="Team")).to_have_count(1)  # a supervisor


def test_a_deactivated_users_open_page_goes_to_sign_in_on_the_next_request(
    page: Page, other: Page, world: World
) -> None:
    login(other, world.base, "bo")  # bo has the inbox open
    login(page, world.base, "ada")
    page.goto(f"{world.base}/console/users")
    page.click("tr[data-user='bo'] button:text-is('Deactivate')")
    expect(page.locator(".flash-success")).to_contain_text("bo is deactivated")
    expect(page.locator("tr[data-user='bo'] .active-cell")).to_have_text("deactivated")
    other.click("nav.nav a:text-is('Follow-ups')")  # bo's next click
    expect(other).to_have_url(re.compile(r"/console/login\?next=/console/follow-ups$"))
    other.fill("#username", "bo")
    other.fill("#password", PASSWORD)
    other.click("form[action='/console/login'] button[type=submit]")
    expect(other.locator(".flash-error[role=alert]")).to_contain_text("wrong user name or password")


def test_a_user_changes_password_and_time_zone_and_sees_times_in_it(
    page: Page, other: Page, world: World
) -> None:
    login(page, world.base, "cy")
    conversation = f"{world.base}/console/conversations/{world.conversation}"
    page.goto(conversation)
    stamp = page.locator(f".thread time[datetime='{KNOWN_UTC}']").first
    expect(stamp).to_have_text("Thu 15 Jan 09:00 UTC")  # no zone chosen yet: UTC

    page.click(".userbox a.user-name")
    expect(page).to_have_url(f"{world.base}/console/me")
    page.fill("#current", PASSWORD)
    page.fill("#new", "a much longer secret")
    page.fill("#confirm", "a much longer secret")
    page.click("#password-form button[type=submit]")
    expect(page.locator(".flash-success")).to_contain_text("Password changed.")
    page.select_option("#timezone", "Asia/Tokyo")
    page.check("input[name=mask_abuse][value=on]")
    page.click("#settings-form button[type=submit]")
    expect(page.locator(".flash-success")).to_contain_text("times are shown in Asia/Tokyo")
    expect(page.locator("#timezone")).to_have_value("Asia/Tokyo")
    expect(page.locator("input[name=mask_abuse][value=on]")).to_be_checked()
    shot(page, "me")

    page.goto(conversation)
    stamp = page.locator(f".thread time[datetime='{KNOWN_UTC}']").first
    expect(stamp).to_have_text("Thu 15 Jan 18:00 JST")  # the viewer's zone
    expect(stamp).to_have_attribute("title", "2026-01-15 09:00 UTC")  # UTC on hover
    stamp.hover()

    other.goto(f"{world.base}/console/login")  # the old password no longer opens the console
    other.fill("#username", "cy")
    other.fill("#password", PASSWORD)
    other.click("form[action='/console/login'] button[type=submit]")
    expect(other.locator(".flash-error[role=alert]")).to_be_visible()
    login(other, world.base, "cy", "a much longer secret")


# -- the filters, without a browser ---------------------------------------------------------------

SUMMER = "2026-07-01T12:30:00+00:00"


@pytest.mark.parametrize(
    ("zone", "visible", "hover"),
    [
        (None, "Wed 1 Jul 12:30 UTC", "Wed 1 Jul 12:30 UTC"),  # unset: as before, UTC
        ("Europe/Berlin", "Wed 1 Jul 14:30 CEST", "Wed 1 Jul 14:30 CEST (12:30 UTC)"),  # DST
        ("America/New_York", "Wed 1 Jul 08:30 EDT", "Wed 1 Jul 08:30 EDT (12:30 UTC)"),
        ("Asia/Kolkata", "Wed 1 Jul 18:00 IST", "Wed 1 Jul 18:00 IST (12:30 UTC)"),  # +05:30
        (
            "Pacific/Kiritimati",
            "Thu 2 Jul 02:30 +14",
            "Thu 2 Jul 02:30 +14 (12:30 UTC)",
        ),  # next day
        ("Europe/London", "Wed 1 Jul 13:30 BST", "Wed 1 Jul 13:30 BST (12:30 UTC)"),
    ],
)
def test_times_are_shown_in_the_viewers_zone_with_utc_for_machines_and_hover(
    zone: str | None, visible: str, hover: str
) -> None:
    token = VIEWER_ZONE.set(ZoneInfo(zone) if zone else None)
    try:
        html = str(when_html(SUMMER))
        assert html == (
            f'<time datetime="2026-07-01T12:30:00Z" title="2026-07-01 12:30 UTC">{visible}</time>'
        )
        assert when_text(SUMMER) == hover  # for title="" attributes: plain text
        assert str(when_html(None)) == "—"
    finally:
        VIEWER_ZONE.reset(token)
    assert when(SUMMER) == "Wed 1 Jul 12:30 UTC"  # outside a page: UTC


def test_a_stamped_line_keeps_its_text_escaped() -> None:
    token = VIEWER_ZONE.set(ZoneInfo("Asia/Tokyo"))
    try:
        html = str(stamped_html("2026-01-15T09:00:00+00:00: <b>refund</b> & more"))
        assert html.endswith("Thu 15 Jan 18:00 JST</time>: &lt;b&gt;refund&lt;/b&gt; &amp; more")
        assert str(stamped_html("no time: <i>")) == "no time: <i>"  # a str: autoescaped later
    finally:
        VIEWER_ZONE.reset(token)
