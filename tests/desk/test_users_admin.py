"""Users administered by admins, and each user's own password and settings (issue 16, item 5).

On SQLite and PostgreSQL. The service (``gracedesk.service.users``) is called directly for the
rules; where the effect is on sign-in, console sessions or API tokens it is checked through the
real web app (FastAPI's TestClient with a console session cookie and a bearer token).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from gracedesk.errors import Conflict, InvalidRequest, NotFound, PermissionDenied, Unauthenticated
from gracedesk.service import users
from gracedesk.service.desk import Desk
from gracedesk.settings import Settings
from gracedesk.store import Store
from gracedesk.store.tables import AuditEvent, ConsoleSession, User
from gracedesk.web.app import create_app

from .conftest import NOW, make_user

PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
SHOWN = re.compile(r'id="shown-(password|token)">([^<]+)<')
LATER = NOW + timedelta(minutes=5)


@pytest.fixture
def team(store: Store) -> dict[str, User]:
    """One admin, one supervisor, one agent. No passwords: Argon2id costs a third of a second a
    hash here, so tests give one (``with_password``) only to those who sign in."""
    return {
        role: make_user(store, name, role)[0]
        for name, role in (("adm", "admin"), ("sup", "supervisor"), ("ana", "agent"))
    }


def with_password(store: Store, *people: User) -> None:
    hashed = users.hash_password(PASSWORD)
    with store.write() as s:
        for u in people:
            s.get_one(User, u.id).password_hash = hashed


@pytest.fixture
def client(settings: Settings, desk: Desk) -> Iterator[Callable[[], TestClient]]:
    """``client()``: a new browser (its own cookies) on one app, closed at the end."""
    app = create_app(settings, desk=desk)
    opened: list[TestClient] = []

    def new() -> TestClient:
        c = TestClient(app, follow_redirects=False)
        c.__enter__()
        opened.append(c)
        return c

    try:
        yield new
    finally:
        for c in opened:
            c.__exit__(None, None, None)


def csrf(c: TestClient, path: str = "/console/login") -> str:
    found = CSRF.search(c.get(path).text)
    assert found, path
    return found[1]


def sign_in(c: TestClient, name: str, password: str = PASSWORD) -> int:
    data = {"username": name, "password": password, "csrf_token": csrf(c)}
    return c.post("/console/login", data=data).status_code


def signed_in(c: TestClient) -> bool:
    return c.get("/console/").status_code == 200


def post(c: TestClient, path: str, **data: str) -> Any:
    return c.post(path, data={**data, "csrf_token": csrf(c, "/console/me")})


def events(store: Store, kind: str) -> list[AuditEvent]:
    with store.read() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.kind == kind)))


def sessions_of(store: Store, user: User) -> int:
    with store.read() as s:
        q = select(func.count()).where(ConsoleSession.user_id == user.id)
        return int(s.scalar(q) or 0)


def api_me(c: TestClient, token: str) -> int:
    return c.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code


# -- who may ------------------------------------------------------------------------------------

ADMIN_ONLY: list[tuple[str, Callable[[Store, User, User], Any]]] = [
    ("list", lambda st, by, u: users.list_users(st, by=by)),
    ("invite", lambda st, by, u: users.invite_user(st, "new", role="agent", by=by, now=NOW)),
    ("role", lambda st, by, u: users.change_role(st, u.id, "supervisor", by=by, now=NOW)),
    ("deactivate", lambda st, by, u: users.set_active(st, u.id, False, by=by, now=NOW)),
    ("token", lambda st, by, u: users.reset_token(st, u.id, by=by, now=NOW)),
    ("password", lambda st, by, u: users.reset_password(st, u.id, by=by, now=NOW)),
]


def test_only_admins_administer_users(store: Store, team: dict[str, User]) -> None:
    failures = []
    for role in ("agent", "supervisor"):
        for what, call in ADMIN_ONLY:
            try:
                call(store, team[role], team["agent"])
                failures.append(f"{what} as {role}: allowed")
            except PermissionDenied:
                pass
    assert not failures, failures
    with store.read() as s:  # nothing changed
        ana = s.get_one(User, team["agent"].id)
        count = s.scalar(select(func.count()).select_from(User))
        assert (ana.role, ana.active, ana.token_hash, count) == (
            "agent",
            True,
            team["agent"].token_hash,
            3,
        )


def test_the_console_users_page_is_403_for_agents_and_supervisors(
    client: Callable[[], TestClient], store: Store, team: dict[str, User]
) -> None:
    with_password(store, team["agent"], team["supervisor"])
    for name in ("ana", "sup"):
        c = client()
        assert sign_in(c, name) == 303
        r = c.get("/console/users")
        assert r.status_code == 403 and "Not allowed" in r.text, name
        assert post(c, f"/console/users/{team['agent'].id}/deactivate").status_code == 403, name
    assert not events(store, "user.deactivated")


# -- create, role, audit ------------------------------------------------------------------------


def test_an_admin_creates_a_user_who_signs_in_with_the_password_shown_once(
    client: Callable[[], TestClient], store: Store, team: dict[str, User]
) -> None:
    with_password(store, team["admin"])
    admin = client()
    assert sign_in(admin, "adm") == 303
    r = post(
        admin,
        "/console/users",
        name="lee",
        display_name="Lee Park",
        email="lee@example.com",
        role="supervisor",
    )
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-store"  # the secrets are not kept by the browser
    shown = dict(SHOWN.findall(r.text))
    assert set(shown) == {"password", "token"} and len(shown["password"]) >= users.PASSWORD_MIN
    assert shown["password"] not in admin.get("/console/users").text  # shown once only
    lee = client()
    assert sign_in(lee, "lee", shown["password"]) == 303 and signed_in(lee)
    assert api_me(lee, shown["token"]) == 200
    [created] = events(store, "user.created")[-1:]
    assert (created.actor, created.actor_id) == ("user:adm", team["admin"].id)
    assert created.detail["role"] == "supervisor"
    assert shown["password"] not in str(created.detail) and shown["token"] not in str(
        created.detail
    )
    # the same name again: the form comes back filled in, with the reason
    r = post(admin, "/console/users", name="lee", role="agent")
    assert r.status_code == 409 and "already exists" in r.text and 'value="lee"' in r.text


BAD_INVITES = [
    ({"name": "no spaces", "role": "agent"}, "name must be"),  # not a sign-in name
    ({"name": "x" * 81, "role": "agent"}, "at most 80"),  # longer than the column
    ({"name": "x", "role": "owner"}, "role must be"),  # no such role
    ({"name": "x", "role": "agent", "email": "nobody"}, "e-mail must be"),  # not an address
    ({"name": "x", "role": "agent", "display_name": "d" * 121}, "at most 120"),  # too long
]


def test_an_invite_with_bad_fields_is_refused(store: Store, team: dict[str, User]) -> None:
    for fields, message in BAD_INVITES:
        with pytest.raises(InvalidRequest, match=message):
            users.invite_user(
                store,
                fields["name"],
                role=fields["role"],
                by=team["admin"],
                now=NOW,
                email=fields.get("email"),
                display_name=fields.get("display_name"),
            )
    assert not events(store, "user.created")[3:]  # only the fixture's three


def test_a_role_change_is_audited_and_a_no_op_is_409(store: Store, team: dict[str, User]) -> None:
    ana = team["agent"]
    out = users.change_role(store, ana.id, "supervisor", by=team["admin"], now=NOW)
    assert out["role"] == "supervisor"
    [e] = events(store, "user.role_changed")
    assert (e.actor, e.detail["old"], e.detail["new"]) == ("user:adm", "agent", "supervisor")
    with pytest.raises(Conflict):
        users.change_role(store, ana.id, "supervisor", by=team["admin"], now=NOW)
    with pytest.raises(NotFound):
        users.change_role(store, 9999, "agent", by=team["admin"], now=NOW)


def test_a_demoted_admin_cannot_act_on_a_stale_session_object(
    store: Store, team: dict[str, User]
) -> None:
    other, _ = make_user(store, "adm2", "admin")
    users.change_role(store, team["admin"].id, "agent", by=other, now=NOW)
    with pytest.raises(PermissionDenied):  # team["admin"] still says "admin" in memory
        users.set_active(store, other.id, False, by=team["admin"], now=NOW)


def test_the_last_active_admin_can_be_neither_demoted_nor_deactivated(
    store: Store, team: dict[str, User]
) -> None:
    adm = team["admin"]
    with pytest.raises(Conflict, match="last active admin"):
        users.change_role(store, adm.id, "agent", by=adm, now=NOW)
    with pytest.raises(Conflict, match="last active admin"):
        users.set_active(store, adm.id, False, by=adm, now=NOW)
    other, _ = make_user(store, "adm2", "admin")
    users.set_active(store, other.id, False, by=adm, now=NOW)  # an inactive admin does not count
    with pytest.raises(Conflict, match="last active admin"):
        users.change_role(store, adm.id, "supervisor", by=adm, now=NOW)
    users.set_active(store, other.id, True, by=adm, now=NOW)
    assert users.change_role(store, adm.id, "supervisor", by=adm, now=NOW)["role"] == "supervisor"


# -- deactivation and tokens ------------------------------------------------------------------


def test_deactivation_ends_sessions_and_the_token_at_once_and_reactivation_restores_sign_in(
    client: Callable[[], TestClient], store: Store, team: dict[str, User]
) -> None:
    ana = team["agent"]
    _, token = users.create_user(store, "bo", role="agent", now=NOW)
    bo = store_user(store, "bo")
    with_password(store, bo, team["admin"])
    browser, api = client(), client()
    assert sign_in(browser, "bo") == 303 and signed_in(browser)
    assert api_me(api, token) == 200  # now in the app's token cache
    admin = client()
    assert sign_in(admin, "adm") == 303
    assert post(admin, f"/console/users/{bo.id}/deactivate").status_code == 303
    assert "is deactivated" in admin.get("/console/users").text
    r = browser.get("/console/")
    assert (r.status_code, r.headers["location"]) == (303, "/console/login?next=/console/")
    assert api_me(api, token) == 401  # the cache was dropped: no 30 s of grace
    assert sign_in(client(), "bo") == 401
    assert sessions_of(store, bo) == 0
    [e] = events(store, "user.deactivated")
    assert (e.actor, e.detail["user"], e.detail["sessions_ended"]) == ("user:adm", "bo", 1)

    assert post(admin, f"/console/users/{bo.id}/reactivate").status_code == 303
    assert [e.detail["user"] for e in events(store, "user.reactivated")] == ["bo"]
    assert not signed_in(browser)  # the old session stays ended
    again = client()
    assert sign_in(again, "bo") == 303 and signed_in(again)
    assert api_me(again, token) == 200
    with pytest.raises(Conflict):
        users.set_active(store, ana.id, True, by=team["admin"], now=NOW)


def test_a_token_reset_shows_the_new_token_once_and_refuses_the_old_one(
    client: Callable[[], TestClient], store: Store, team: dict[str, User]
) -> None:
    _, old = users.create_user(store, "bo", role="agent", now=NOW)
    bo = store_user(store, "bo")
    with_password(store, team["admin"])
    api = client()
    assert api_me(api, old) == 200
    admin = client()
    assert sign_in(admin, "adm") == 303
    r = post(admin, f"/console/users/{bo.id}/token")
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    new = dict(SHOWN.findall(r.text))["token"]
    assert "New API token for bo" in r.text
    assert api_me(api, old) == 401 and api_me(api, new) == 200
    [e] = events(store, "user.token_reset")
    assert (e.actor, e.detail) == ("user:adm", {"user": "bo", "user_id": bo.id})


# -- passwords ------------------------------------------------------------------------------------


def test_changing_ones_password_needs_the_current_one_and_ends_the_other_sessions(
    client: Callable[[], TestClient], store: Store, team: dict[str, User]
) -> None:
    with_password(store, team["agent"])
    here, elsewhere = client(), client()
    assert sign_in(here, "ana") == 303 and sign_in(elsewhere, "ana") == 303
    new = "a brand new secret"
    for current, typed, again, status, message in (
        ("wrong password", new, new, 422, "current password is not right"),  # not the owner?
        (PASSWORD, new, "a brand new secreT", 422, "differ"),  # a typo in the repetition
        (PASSWORD, "short", "short", 422, "at least 8"),  # the policy
        (PASSWORD, new, new, 303, None),
    ):
        r = post(here, "/console/me/password", current=current, new=typed, confirm=again)
        assert r.status_code == status, (current, r.text[:300])
        if message:
            assert message in r.text
            assert signed_in(elsewhere)  # a refused change ends nothing
    assert "1 other session(s) signed out" in here.get("/console/me").text
    assert signed_in(here) and not signed_in(elsewhere)
    assert sign_in(client(), "ana", PASSWORD) == 401
    assert sign_in(client(), "ana", new) == 303
    [e] = events(store, "user.password_changed")
    assert (e.actor, e.detail["sessions_ended"], e.detail["reset"]) == ("user:ana", 1, False)
    assert new not in str(e.detail) and PASSWORD not in str(e.detail)


def test_a_new_password_must_follow_the_policy(store: Store, team: dict[str, User]) -> None:
    with_password(store, team["agent"])
    for new, message in (
        ("short", "at least 8"),  # the policy of auth.create_user
        (PASSWORD, "same as the current"),  # no change at all
        ("x" * 1001, "at most 1000"),  # longer than the sign-in form takes
    ):
        with pytest.raises(InvalidRequest, match=message):
            users.change_password(store, team["agent"], current=PASSWORD, new=new, now=NOW)
    assert not events(store, "user.password_changed")


def test_an_admin_resets_a_forgotten_password_which_ends_their_sessions(
    client: Callable[[], TestClient], store: Store, team: dict[str, User]
) -> None:
    with_password(store, team["agent"])
    ana = client()
    assert sign_in(ana, "ana") == 303
    fresh = users.reset_password(store, team["agent"].id, by=team["admin"], now=LATER)
    assert not signed_in(ana)
    assert sign_in(client(), "ana", PASSWORD) == 401 and sign_in(client(), "ana", fresh) == 303
    [e] = events(store, "user.password_changed")
    assert (e.actor, e.detail["reset"], e.detail["sessions_ended"]) == ("user:adm", True, 1)
    with pytest.raises(InvalidRequest, match="Your settings"):
        users.reset_password(store, team["admin"].id, by=team["admin"], now=LATER)


# -- settings -------------------------------------------------------------------------------------


ZONES: list[tuple[str, str | None]] = [
    ("Europe/Berlin", "Europe/Berlin"),  # an IANA name
    ("America/Argentina/Buenos_Aires", "America/Argentina/Buenos_Aires"),  # three parts
    ("CET ", "CET"),  # spaces around are dropped
    ("", None),  # unset: UTC
]
NOT_ZONES = [
    "Mars/Olympus_Mons",  # no such zone
    "../../etc/passwd",  # not a name at all
    "europe/berlin",  # names are case-sensitive
]


def test_a_time_zone_must_be_one_zoneinfo_knows(store: Store, team: dict[str, User]) -> None:
    ana = team["agent"]
    for zone, stored in ZONES:
        users.set_timezone(store, ana, zone, now=NOW)
        assert store_user(store, "ana").timezone == stored, zone
        [*_, e] = events(store, "settings.changed")
        assert (e.actor, e.detail["key"], e.detail["new"]) == ("user:ana", "timezone", stored)
    users.set_timezone(store, ana, "Asia/Tokyo", now=NOW)
    for zone in NOT_ZONES:
        with pytest.raises(InvalidRequest, match="not a time zone"):
            users.set_timezone(store, ana, zone, now=NOW)
        assert store_user(store, "ana").timezone == "Asia/Tokyo", zone


def test_settings_in_the_console_refuse_an_unknown_zone_and_keep_masking_three_way(
    client: Callable[[], TestClient], store: Store, team: dict[str, User]
) -> None:
    with_password(store, team["agent"])
    c = client()
    assert sign_in(c, "ana") == 303
    r = post(c, "/console/me/settings", timezone="Atlantis/Capital", mask_abuse="on")
    assert r.status_code == 422
    assert (store_user(store, "ana").timezone, store_user(store, "ana").mask_abuse) == (None, None)
    for choice, stored in (("on", True), ("off", False), ("default", None)):
        r = post(c, "/console/me/settings", timezone="Asia/Tokyo", mask_abuse=choice)
        assert r.status_code == 303, r.text[:300]
        assert store_user(store, "ana").mask_abuse is stored
    assert store_user(store, "ana").timezone == "Asia/Tokyo"
    assert post(c, "/console/me/settings", mask_abuse="maybe").status_code == 422
    page = c.get("/console/me").text
    assert '<option value="Asia/Tokyo" selected>' in page and "JST</time>" in page


def test_the_service_refuses_users_that_no_longer_exist(
    store: Store, team: dict[str, User]
) -> None:
    """The web refuses the session first; the service itself also refuses a vanished user."""
    with pytest.raises(NotFound):
        users.set_timezone(store, _ghost(), "UTC", now=NOW)
    with pytest.raises(Unauthenticated):
        users.set_active(store, team["agent"].id, False, by=_ghost(role="admin"), now=NOW)


def store_user(store: Store, name: str) -> User:
    with store.read() as s:
        found = s.scalar(select(User).where(User.name == name))
    assert found is not None
    return found


def _ghost(role: str = "agent") -> User:
    return User(id=99_999, name="ghost", role=role, active=True)
