"""Sign-in throttling, server-side console sessions, the cookie's flags and the security headers,
on both databases (issue 11: items 4 and 7)."""

from __future__ import annotations

import base64
import hashlib
import re
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from gracedesk.service.desk import Desk
from gracedesk.service.throttle import Key, Throttle
from gracedesk.settings import Settings
from gracedesk.store import Store
from gracedesk.store.tables import AuditEvent, AuthThrottle, ConsoleSession
from gracedesk.web import console_session, security
from gracedesk.web.app import create_app
from gracedesk.web.security import cookie_secure

from .conftest import NOW, make_user

PASSWORD = "correct horse battery"
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
ALERT = re.compile(r'role="alert">([^<]*)<')
TIGHT = {
    "signin_max_failures": 3,
    "signin_max_failures_per_client": 6,
    "signin_lockout_seconds": 30,
    "signin_lockout_max_seconds": 120,
}


@pytest.fixture
def tight(settings: Settings) -> Settings:
    return settings.model_copy(update=TIGHT)


@pytest.fixture
def console(tight: Settings, desk: Desk) -> Iterator[TestClient]:
    make_user(desk.store, "ana", "agent", password=PASSWORD)
    with TestClient(create_app(tight, desk=desk), follow_redirects=False) as client:
        yield client


def csrf(client: TestClient) -> str:
    found = TOKEN.search(client.get("/console/login").text)
    assert found
    return found[1]


def sign_in(client: TestClient, name: str, password: str = PASSWORD) -> Any:
    token = csrf(client)
    return client.post(
        "/console/login", data={"username": name, "password": password, "csrf_token": token}
    )


def alert(r: Any) -> str:
    found = ALERT.search(r.text)
    return found[1] if found else ""


def lockouts(store: Store) -> list[AuditEvent]:
    with store.read() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.kind == "auth.lockout")))


# -- throttling in the console --------------------------------------------------------------------


def test_wrong_passwords_lock_the_name_then_429_even_for_the_right_one(
    console: TestClient, desk: Desk
) -> None:
    answers = [sign_in(console, "ana", "wrong") for _ in range(3)]
    assert [r.status_code for r in answers] == [401, 401, 401]
    locked = sign_in(console, "ana")  # the right password, but too late
    assert locked.status_code == 429
    assert locked.headers["Retry-After"] == "30"
    assert "Too many failed sign-ins" in alert(locked) and "30 seconds" in alert(locked)
    assert console.get("/console/").status_code == 303  # not signed in
    (event,) = lockouts(desk.store)
    assert event.detail["user"] == "ana" and event.detail["failures"] == 3
    assert event.detail["seconds"] == 30 and event.actor == "system"


def test_an_unknown_name_is_throttled_exactly_like_a_real_one(console: TestClient) -> None:
    real = [sign_in(console, "ana", "wrong") for _ in range(4)]
    ghost = [sign_in(console, "nobody-here", "wrong") for _ in range(4)]
    assert [r.status_code for r in real] == [r.status_code for r in ghost] == [401] * 3 + [429]
    assert [alert(r) for r in real] == [alert(r) for r in ghost]
    assert real[-1].headers["Retry-After"] == ghost[-1].headers["Retry-After"]


def test_a_success_resets_the_names_counter(console: TestClient) -> None:
    assert [sign_in(console, "ana", "wrong").status_code for _ in range(2)] == [401, 401]
    assert sign_in(console, "ana").status_code == 303
    console.cookies.clear()
    assert [sign_in(console, "ana", "wrong").status_code for _ in range(2)] == [401, 401]
    assert sign_in(console, "ana").status_code == 303  # not locked: the count started again


def test_one_client_trying_many_names_is_locked(console: TestClient) -> None:
    codes = [sign_in(console, f"user{i}", "wrong").status_code for i in range(7)]
    assert codes == [401] * 6 + [429]
    assert sign_in(console, "ana").status_code == 429  # the address, not the name, is locked


# -- the counters: back-off, window, atomic across processes --------------------------------------


def test_the_lock_doubles_up_to_the_cap_and_is_forgotten_after_the_window(store: Store) -> None:
    throttle = Throttle(
        max_failures=3,
        window=timedelta(minutes=15),
        lockout=timedelta(seconds=30),
        lockout_max=timedelta(seconds=100),
    )
    key = [Key("user", "ana")]
    t = NOW
    assert [throttle.fail(store, key, now=t) for _ in range(2)] == [0, 0]
    assert throttle.locked(store, key, now=t) == 0
    assert throttle.fail(store, key, now=t) == 30
    assert throttle.locked(store, key, now=t + timedelta(seconds=10)) == 20
    waits: list[int] = []
    for _ in range(3):  # each failure after a lock ends locks again, twice as long
        t += timedelta(seconds=waits[-1] if waits else 30)
        assert throttle.locked(store, key, now=t) == 0
        waits.append(throttle.fail(store, key, now=t))
    assert waits == [60, 100, 100]  # capped
    assert throttle.locked(store, [Key("user", "ANA")], now=t) == 100  # case does not matter
    quiet = t + timedelta(seconds=100) + timedelta(minutes=15, seconds=1)
    assert throttle.fail(store, key, now=quiet) == 0  # forgotten: counting from one again
    throttle.succeed(store, key[0])
    with store.read() as s:
        assert s.scalar(select(func.count()).select_from(AuthThrottle)) == 0


def test_failures_from_several_processes_all_count(store: Store, db_url: str) -> None:
    """Eight threads, each with its own engine (as separate server processes would have)."""
    throttle = Throttle(max_failures=1000, max_failures_per_client=1000)
    stores = [Store.open(db_url) for _ in range(8)]
    try:
        barrier = threading.Barrier(len(stores))

        def hammer(st: Store) -> None:
            barrier.wait()
            for _ in range(10):
                throttle.fail(st, [Key("user", "ana"), Key("client", "10.0.0.1")], now=NOW)

        threads = [threading.Thread(target=hammer, args=(st,)) for st in stores]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        with stores[0].read() as s:
            counts = sorted(s.scalars(select(AuthThrottle.failures)))
        assert counts == [80, 80]
    finally:
        for st in stores:
            st.close()


# -- bad API tokens -------------------------------------------------------------------------------


def test_bad_api_tokens_lock_the_client_with_a_problem_document(
    tight: Settings, desk: Desk
) -> None:
    _, good = make_user(desk.store, "ann", "agent")
    _, other = make_user(desk.store, "bob", "agent")
    with TestClient(create_app(tight, desk=desk)) as client:
        assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {good}"}).is_success
        bad = [
            client.get("/api/v1/me", headers={"Authorization": "Bearer guess"}) for _ in range(7)
        ]
        assert [r.status_code for r in bad] == [401] * 6 + [429]
        body = bad[-1].json()
        assert (body["status"], body["code"]) == (429, "GD705")
        assert bad[-1].headers["Retry-After"] == "30"
        assert bad[-1].headers["content-type"] == "application/problem+json"
        # a token not seen yet waits too; one already checked in the last 30 s keeps working
        assert (
            client.get("/api/v1/me", headers={"Authorization": f"Bearer {other}"}).status_code
            == 429
        )
        assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {good}"}).is_success
        # no token at all is a plain 401 and counts as nothing
        assert client.get("/api/v1/me").status_code == 401
    assert [e.detail.get("client") for e in lockouts(desk.store)] == ["testclient"]


# -- server-side sessions -------------------------------------------------------------------------


def test_a_copied_cookie_stops_working_after_logout(console: TestClient, desk: Desk) -> None:
    assert sign_in(console, "ana").status_code == 303
    copied = dict(console.cookies)
    assert console.get("/console/").status_code == 200
    page = console.get("/console/").text
    token = re.search(r'<meta name="csrf-token" content="([^"]+)">', page)
    assert token
    assert console.post("/console/logout", data={"csrf_token": token[1]}).status_code == 303
    with desk.store.read() as s:
        assert s.scalar(select(func.count()).select_from(ConsoleSession)) == 0
    console.cookies.clear()
    console.cookies.update(copied)
    r = console.get("/console/")
    assert (r.status_code, r.headers["location"]) == (303, "/console/login?next=/console/")


def test_logout_in_one_process_ends_the_session_in_another(
    tight: Settings, desk: Desk, db_url: str
) -> None:
    """Two apps with their own store objects on one database, sharing the signing key."""
    make_user(desk.store, "ana", "agent", password=PASSWORD)
    other_store = Store.open(db_url)
    other = Desk(other_store, policy=desk.policy, analyzer=desk.analyzer)
    try:
        with (
            TestClient(create_app(tight, desk=desk), follow_redirects=False) as a,
            TestClient(create_app(tight, desk=other), follow_redirects=False) as b,
        ):
            assert sign_in(a, "ana").status_code == 303
            b.cookies.update(dict(a.cookies))
            assert b.get("/console/").status_code == 200
            token = re.search(r'name="csrf-token" content="([^"]+)"', b.get("/console/").text)
            assert token
            assert b.post("/console/logout", data={"csrf_token": token[1]}).status_code == 303
            assert a.get("/console/").status_code == 303
    finally:
        other_store.close()


def test_sessions_end_after_the_configured_lifetime(
    console: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert sign_in(console, "ana").status_code == 303
    assert console.get("/console/").status_code == 200
    later = console_session.clock() + timedelta(hours=12, minutes=1)
    monkeypatch.setattr(console_session, "clock", lambda: later)
    r = console.get("/console/")
    assert (r.status_code, r.headers["location"]) == (303, "/console/login?next=/console/")


# -- the cookie -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base_url", "secure", "host", "expected"),
    [
        ("http://127.0.0.1:8000", None, None, False),  # gracedesk serve --demo, the default
        ("http://127.0.0.1:8000", None, "127.0.0.1", False),
        ("http://localhost:8000", None, "::1", False),
        ("http://127.0.0.1:8000", None, "0.0.0.0", True),  # reachable from elsewhere
        ("http://desk.example.com", None, None, True),  # plain http, not local
        ("https://desk.example.com", None, "0.0.0.0", True),
        ("http://desk.example.com", False, "0.0.0.0", False),  # explicitly allowed
        ("http://127.0.0.1:8000", True, "127.0.0.1", True),
    ],
)
def test_the_cookie_is_secure_unless_local_plain_http(
    tmp_path: Path, base_url: str, secure: bool | None, host: str | None, expected: bool
) -> None:
    s = Settings(home=tmp_path, secret_key="x", base_url=base_url, cookie_secure=secure)
    assert cookie_secure(s, host) is expected


def test_the_cookie_flags(settings: Settings, desk: Desk) -> None:
    https = settings.model_copy(update={"base_url": "https://desk.example.com"})
    with TestClient(create_app(https, desk=desk), base_url="https://desk.example.com") as c:
        cookie = c.get("/console/login").headers["set-cookie"].lower()
    assert "secure" in cookie and "httponly" in cookie and "samesite=strict" in cookie
    assert "max-age=43200" in cookie


# -- headers --------------------------------------------------------------------------------------


def test_every_kind_of_response_has_the_security_headers(settings: Settings, desk: Desk) -> None:
    with TestClient(create_app(settings, desk=desk), follow_redirects=False) as c:
        answers = {
            "console": c.get("/console/login"),
            "redirect": c.get("/console/"),
            "api": c.get("/api/v1/me"),
            "static": c.get("/static/console.css"),
            "htmx": c.get("/static/htmx.min.js"),
            "health": c.get("/healthz"),
            "openapi": c.get("/openapi.json"),
            "missing": c.get("/nowhere"),
            "docs": c.get("/docs"),
        }
    for what, r in answers.items():
        assert r.headers["x-content-type-options"] == "nosniff", what
        assert r.headers["x-frame-options"] == "DENY", what
        assert r.headers["referrer-policy"] == "same-origin", what
        csp = r.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp, what
        assert "unsafe-eval" not in csp, what
    console = answers["console"].headers["content-security-policy"]
    assert "script-src 'self';" in console and "unsafe-inline" not in console
    docs = answers["docs"]
    scripts = re.findall(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", docs.text, re.S)
    assert scripts, "Swagger UI's page has an inline bootstrap script"
    for body in scripts:
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in docs.headers["content-security-policy"]
    assert "script-src 'self' 'sha256-" in docs.headers["content-security-policy"]


def test_the_templates_need_no_inline_script_or_style() -> None:
    """What the console's CSP (script-src/style-src 'self') would block."""
    templates = Path(security.__file__).parent / "templates"
    for path in templates.glob("*.html"):
        html = re.sub(r"\{#.*?#\}", "", path.read_text(encoding="utf-8"), flags=re.S)
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), path.name
        assert not re.search(r"<style|\sstyle=|\son[a-z]+=|javascript:", html, re.I), path.name
