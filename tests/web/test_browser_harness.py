"""The browser harness works: real Chromium, a live uvicorn server, the console's base templates
and vendored HTMX, with the CSRF token carried on every HTMX request."""

from __future__ import annotations

import html
import os
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI, Header, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from playwright.sync_api import Page, expect

import gracedesk

WEB = Path(gracedesk.__file__).parent / "web"
ROOT = Path(__file__).resolve().parents[2]
# Quotes and markup in the token prove the hx-headers JSON survives HTML attribute quoting.
TOKEN = "tok'en\"<&>"

CONSOLE_PAGE = """{% extends "base.html" %}
{% block content %}
<section class="card">
  <button id="echo" class="btn btn-primary" hx-post="/echo" hx-target="#out">Echo</button>
  <div id="out"></div>
</section>
{% endblock %}"""


@dataclass
class FakeUser:
    name: str
    role: str


def make_app() -> FastAPI:
    app = FastAPI()
    app.mount("/static", StaticFiles(directory=WEB / "static"), name="static")
    templates = Jinja2Templates(directory=WEB / "templates")
    console = templates.env.from_string(CONSOLE_PAGE)

    @app.get("/console/login", response_class=HTMLResponse)
    def login(request: Request) -> HTMLResponse:
        return templates.TemplateResponse(
            request, "login.html", {"user": None, "csrf_token": "t", "error": "Wrong password."}
        )

    @app.get("/console/", response_class=HTMLResponse)
    def inbox(request: Request, role: str = "supervisor") -> HTMLResponse:
        user = FakeUser(name="<b>Dana</b> Reyes", role=role)
        return HTMLResponse(console.render(request=request, user=user, csrf_token=TOKEN))

    @app.post("/echo", response_class=HTMLResponse)
    def echo(x_csrf_token: str | None = Header(default=None)) -> HTMLResponse:
        return HTMLResponse(f'<p id="echoed">{html.escape(str(x_csrf_token))}</p>')

    return app


def test_htmx_requests_carry_the_csrf_token(page: Page, live_server) -> None:
    base = live_server(make_app())
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    page.goto(f"{base}/console/")
    assert page.evaluate("typeof htmx") == "object"
    assert page.get_attribute('meta[name="csrf-token"]', "content") == TOKEN
    page.click("#echo")
    expect(page.locator("#echoed")).to_have_text(TOKEN)
    # Nothing is fetched from anywhere but the app itself (no CDN, no web fonts).
    assert requested and all(u.startswith(f"{base}/") for u in requested), requested


def test_nav_shows_team_only_to_supervisors_and_escapes_user_text(page: Page, live_server) -> None:
    base = live_server(make_app())
    page.goto(f"{base}/console/?role=supervisor")
    nav = page.locator("nav.nav a")
    expect(nav).to_have_text(
        [
            "Inbox",
            "Escalations",
            "Follow-ups",
            "Customers",
            "Knowledge",
            "Training",
            "Team",
            "Reports",
            "Audit",
        ]
    )
    expect(page.locator('nav.nav a[aria-current="page"]')).to_have_text("Inbox")
    expect(page.locator(".user-name")).to_have_text("<b>Dana</b> Reyes")  # shown, not parsed
    assert page.locator(".userbox b").count() == 0
    expect(page.locator(".userbox .role")).to_have_text("supervisor")
    page.goto(f"{base}/console/?role=agent")
    expect(nav).to_have_text(
        ["Inbox", "Escalations", "Follow-ups", "Customers", "Knowledge", "Training"]
    )
    logout = page.locator('form[action="/console/logout"][method="post"]')
    assert logout.locator('input[name="csrf_token"]').get_attribute("value") == TOKEN


def test_login_page_renders_its_form_without_nav(page: Page, live_server) -> None:
    base = live_server(make_app())
    page.goto(f"{base}/console/login")
    assert page.evaluate("typeof htmx") == "object"
    assert page.locator("nav").count() == 0
    form = page.locator('form[action="/console/login"]')
    expect(form.locator("#username")).to_be_visible()
    expect(form.locator("#password")).to_have_attribute("type", "password")
    assert form.locator('input[name="csrf_token"]').get_attribute("value") == "t"
    expect(page.locator('.flash-error[role="alert"]')).to_have_text("Wrong password.")
    page.fill("#username", "dana")
    expect(page.locator("#username")).to_have_value("dana")
    if os.environ.get("GRACEDESK_SCREENSHOTS") == "1":
        out = ROOT / "docs" / "screenshots" / "harness-login.png"
        out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(out), full_page=True)
