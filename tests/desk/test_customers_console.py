"""Customers, flags and the audit log behind the console (issue 16, items 3 and 4).

Every test that takes ``desk`` runs on SQLite and on PostgreSQL: search by each field with LIKE
wildcards taken literally, flags (rules, roles, audit, the REST routes), the ``customer.flags``
fact reaching a policy rule (in a scenario and through the desk), the customer page's read model,
and the audit log's filters and CSV export with its formula-injection guard.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select

from gracedesk.errors import Conflict, InvalidFacts, InvalidRequest, NotFound, PermissionDenied
from gracedesk.model.flags import MAX_FLAGS, VOCABULARY, flag_problem, normal_flag
from gracedesk.policy import load_policy
from gracedesk.policy.loader import default_dir
from gracedesk.service import actions, audit_log, customers, records
from gracedesk.service.audit_log import AuditFilter
from gracedesk.service.desk import Desk, audit
from gracedesk.service.flow import run_scenario
from gracedesk.settings import Settings
from gracedesk.store.tables import AuditEvent, Customer, User
from gracedesk.web.app import create_app
from gracedesk.web.console_audit import csv_cell

from .conftest import NOW, make_user, post

PASSWORD = "a long enough password"
FLAG_RULE = """
[[rule]]
id = "vulnerable-customer"
precedence = 45
description = "Vulnerable customer"
when = { field = "customer.flags", op = "contains", value = "vulnerable" }

[[rule.action]]
type = "set_priority"
priority = "high"
"""


def add_customer(desk: Desk, ext: str, name: str | None, **fields: Any) -> int:
    """A customer row as the intake writes it (no message needed to find one)."""
    with desk.store.write() as s:
        c = Customer(external_id=ext, name=name, created_at=NOW, **fields)
        s.add(c)
        s.flush()
        return c.id


def kinds(desk: Desk, customer_id: int) -> list[tuple[str, str, dict[str, Any]]]:
    with desk.store.read() as s:
        rows = s.scalars(
            select(AuditEvent).where(AuditEvent.customer_id == customer_id).order_by(AuditEvent.id)
        ).all()
        return [(e.kind, e.actor, e.detail) for e in rows]


@pytest.fixture
def staff(desk: Desk) -> dict[str, User]:
    """An agent, a supervisor and an admin (no passwords: hashing one takes most of a second)."""
    return {
        role: make_user(desk.store, name, role)[0]
        for name, role in (("ann", "agent"), ("sue", "supervisor"), ("adm", "admin"))
    }


def failures(rows: list[tuple[Any, Any, Any]]) -> list[str]:
    """The rows of a table test whose result is not the one wanted: (case, got, wanted)."""
    return [f"{case!r}: got {got!r}, wanted {want!r}" for case, got, want in rows if got != want]


# -- search ---------------------------------------------------------------------------------------

PEOPLE = (  # external id, name, e-mail, phone
    ("CRM-00417", "Dana Whitfield", "DANA.W@Example.org", "+44 20 7946 0958"),
    ("crm-00988", "Ravi Patel", "ravi@shop.test", "(555) 010-4477"),
    ("web-31", "Ana Lima", None, None),
)


# one store per table, not per row (a SQLite store is migrated for each test)
SEARCHES = [
    ("whitf", ["CRM-00417"]),  # name, a substring in the middle
    ("PATEL", ["crm-00988"]),  # name, another case
    ("dana.w@example", ["CRM-00417"]),  # e-mail, stored in mixed case
    ("@shop.", ["crm-00988"]),  # e-mail domain
    ("7946 0958", ["CRM-00417"]),  # phone as stored
    ("2079460958", ["CRM-00417"]),  # phone typed without separators
    ("010-4477", ["crm-00988"]),  # phone with its dash
    ("crm-00", ["CRM-00417", "crm-00988"]),  # external id, any case; two matches
    ("WEB-3", ["web-31"]),  # external id of a customer with no contact data
    ("  ana lima  ", ["web-31"]),  # surrounding spaces ignored
    ("nobody", []),
]
WILDCARDS = [
    ("%", ["100% sure"]),  # LIKE's any-string wildcard is a percent sign here
    ("a_b", ["a_b"]),  # LIKE's one-character wildcard is an underscore here
    ("\\", ["back\\slash"]),  # the usual escape character
    ("/", ["slash/ed"]),  # the escape character SQLAlchemy uses
    ("%_", []),  # nobody has both, side by side
]


def test_search_matches_each_field_in_any_case_and_wildcards_literally(desk: Desk) -> None:
    for ext, name, email, phone in PEOPLE:
        add_customer(desk, ext, name, email=email, phone=phone)
    for i, name in enumerate(("100% sure", "100 sure", "a_b", "axb", "back\\slash", "slash/ed")):
        add_customer(desk, f"w-{i}", name)
    rows = []
    for query, want in SEARCHES:
        out = customers.search(desk, query, now=NOW)
        got = sorted(c["external_id"] for c in out["items"])
        rows.append((query, (got, out["total"]), (sorted(want), len(want))))
    for query, want in WILDCARDS:
        rows.append(
            (query, [c["name"] for c in customers.search(desk, query, now=NOW)["items"]], want)
        )
    assert not failures(rows), "\n".join(failures(rows))


def test_search_pages_in_name_order_with_activity(desk: Desk, staff: dict[str, User]) -> None:
    for n in range(5):
        add_customer(desk, f"p-{n}", f"Pat {4 - n}")
    post(desk, "Where is my parcel?", customer="p-9", name="Pat Zed")
    zed_id = customers.search(desk, "p-9", now=NOW)["items"][0]["id"]
    records.add_sanction(desk, zed_id, "restrict", "insults", user=staff["supervisor"], now=NOW)
    first = customers.search(desk, "pat", now=NOW, limit=4)
    assert first["total"] == 6
    assert [c["name"] for c in first["items"]] == ["Pat 0", "Pat 1", "Pat 2", "Pat 3"]
    rest = customers.search(desk, "pat", now=NOW, limit=4, offset=4)
    assert [c["name"] for c in rest["items"]] == ["Pat 4", "Pat Zed"]
    zed = rest["items"][1]
    assert (zed["conversations"], zed["open"], zed["sanction"]) == (1, 1, "restrict")
    assert zed["last_contact"] == NOW.isoformat()
    everyone = customers.search(desk, "", now=NOW)  # blank: every customer, newest first
    assert everyone["items"][0]["name"] == "Pat Zed" and everyone["total"] == 6
    with pytest.raises(InvalidRequest):
        customers.search(desk, "x" * 201, now=NOW)


# -- flags ----------------------------------------------------------------------------------------


def test_supervisors_set_and_clear_flags_and_each_change_is_audited(
    desk: Desk, staff: dict[str, User]
) -> None:
    cid = add_customer(desk, "f-1", "Flo")
    sue, adm = staff["supervisor"], staff["admin"]
    out = customers.add_flag(desk, cid, "  VIP ", user=sue, now=NOW, reason="key account")
    assert out == {"customer_id": cid, "flags": ["vip"]}  # spaces dropped, lower case
    customers.add_flag(desk, cid, "legal_hold", user=adm, now=NOW)
    with pytest.raises(Conflict, match="already flagged 'vip'"):
        customers.add_flag(desk, cid, "vip", user=sue, now=NOW)
    assert customers.remove_flag(desk, cid, "vip", user=adm, now=NOW)["flags"] == ["legal_hold"]
    with pytest.raises(NotFound, match="not flagged 'vip'"):
        customers.remove_flag(desk, cid, "vip", user=sue, now=NOW)
    with pytest.raises(NotFound):
        customers.add_flag(desk, 999_999, "vip", user=sue, now=NOW)
    assert kinds(desk, cid) == [
        ("customer.flagged", "user:sue", {"flag": "vip"}),
        ("customer.flagged", "user:adm", {"flag": "legal_hold"}),
        ("customer.unflagged", "user:adm", {"flag": "vip"}),
    ]
    with desk.store.read() as s:
        reason = s.scalars(
            select(AuditEvent.reason).where(AuditEvent.kind == "customer.flagged")
        ).first()
    assert reason == "key account"
    page = customers.profile(desk, cid, now=NOW)
    assert page["flags"] == [
        {"name": "legal_hold", "about": VOCABULARY["legal_hold"]},
    ]


@pytest.mark.parametrize(
    "flag",
    [
        "legal hold",  # a space
        "1st-contact",  # must start with a letter
        "vip!",  # punctuation
        "é",  # not ASCII
        "x" * 41,  # over 40 characters
        "",  # empty
    ],
)
def test_a_flag_must_be_a_lowercase_slug(flag: str) -> None:
    assert flag_problem(normal_flag(flag)) is not None


def test_a_bad_flag_is_refused_and_nothing_is_audited(desk: Desk, staff: dict[str, User]) -> None:
    cid = add_customer(desk, "f-2", "Flo")
    with pytest.raises(InvalidRequest, match="'legal hold' is not a flag"):
        customers.add_flag(desk, cid, "Legal Hold", user=staff["supervisor"], now=NOW)
    assert kinds(desk, cid) == []


def test_agents_see_flags_but_may_not_change_them_and_twenty_is_the_most(
    desk: Desk, staff: dict[str, User]
) -> None:
    cid = add_customer(desk, "f-3", "Flo")
    for n in range(MAX_FLAGS):
        customers.add_flag(desk, cid, f"label-{n}", user=staff["supervisor"], now=NOW)
    with pytest.raises(Conflict, match="20 flags"):
        customers.add_flag(desk, cid, "one-more", user=staff["supervisor"], now=NOW)
    with pytest.raises(PermissionDenied):
        customers.add_flag(desk, cid, "vulnerable", user=staff["agent"], now=NOW)
    with pytest.raises(PermissionDenied):
        customers.remove_flag(desk, cid, "label-0", user=staff["agent"], now=NOW)
    flags = [f["name"] for f in customers.profile(desk, cid, now=NOW)["flags"]]
    assert len(flags) == MAX_FLAGS and flags[0] == "label-0"


# -- the customer.flags fact ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def flag_policy(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The shipped policy plus one rule: a vulnerable customer's conversation is high priority."""
    root = tmp_path_factory.mktemp("policy") / "flags"
    shutil.copytree(default_dir(), root)
    (root / "rules" / "zz-flags.toml").write_text(FLAG_RULE, encoding="utf-8")
    return load_policy(root)


def scenario(flags: Any) -> dict[str, Any]:
    return {
        "id": "f",
        "messages": [
            {"role": "customer", "text": "Hello, where is my parcel?", "at": NOW.isoformat()}
        ],
        "customer": {"tier": "standard", "flags": flags},
        "signals": {"complaint": 0.1},
    }


def test_a_rule_reads_customer_flags_in_a_scenario(flag_policy: Any) -> None:
    out = run_scenario(scenario(["vip", "vulnerable"]), flag_policy, None, NOW)
    fired = {d.rule_id: d for d in out.trace.decisions}
    assert fired["vulnerable-customer"].priority == "high"
    assert "customer.flags" in fired["vulnerable-customer"].reason
    assert out.sla.priority == "high"
    plain = run_scenario(scenario(["vip"]), flag_policy, None, NOW)
    assert "vulnerable-customer" not in {d.rule_id for d in plain.trace.decisions}
    assert plain.sla.priority == "normal"


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ("vulnerable", "customer.flags must be a list"),
        (["ok", 3], r"customer.flags\[1\]: a flag must be a string"),
        (["Legal Hold"], r"customer.flags\[0\]: 'Legal Hold' is not a flag"),
        ([f"f{n}" for n in range(21)], "at most 20 flags"),
    ],
)
def test_scenario_flags_are_validated(flag_policy: Any, flags: Any, message: str) -> None:
    with pytest.raises(InvalidFacts, match=message):
        run_scenario(scenario(flags), flag_policy, None, NOW)


def test_the_desk_passes_the_customers_flags_to_the_policy(
    store: Any, flag_policy: Any, analyzer: Any
) -> None:
    desk = Desk(store, policy=flag_policy, analyzer=analyzer)
    sue, _ = make_user(store, "sue", "supervisor")
    first = post(desk, "Hello, where is my parcel?", customer="v-1")
    assert "vulnerable-customer" not in {d["rule_id"] for d in first.decisions}
    with desk.store.read() as s:
        cid = s.scalars(select(Customer.id).where(Customer.external_id == "v-1")).one()
    customers.add_flag(desk, cid, "vulnerable", user=sue, now=NOW)
    later = post(desk, "Any news on my parcel?", customer="v-1", at=NOW + timedelta(minutes=5))
    rule = next(d for d in later.decisions if d["rule_id"] == "vulnerable-customer")
    assert rule["priority"] == "high"
    assert later.sla["priority"] == "high"


# -- the customer page ----------------------------------------------------------------------------


def test_the_customer_page_has_history_sanctions_archetype_and_csat(
    desk: Desk, staff: dict[str, User]
) -> None:
    ann, sue = staff["agent"], staff["supervisor"]
    a = post(desk, "You useless idiots broke my router. I demand a refund now!", customer="k-1")
    b = post(desk, "Thanks, could you confirm my address?", customer="k-1", channel="email")
    cid = customers.search(desk, "k-1", now=NOW)["items"][0]["id"]
    actions.resolve(desk, b.conversation_id, user=sue, resolution="address confirmed", now=NOW)
    with desk.store.read() as s:
        from gracedesk.store.tables import CsatResponse

        token = s.scalars(select(CsatResponse.token)).one()
    actions.submit_csat(desk, token, 4, "<b>quick</b>", now=NOW)
    warn = records.add_sanction(desk, cid, "warn", "insults", user=ann, now=NOW)
    records.add_sanction(desk, cid, "block", "threats", user=sue, now=NOW, minutes=60)
    records.lift_sanction(desk, warn["id"], user=sue, reason="apologised", now=NOW)

    page = customers.profile(desk, cid, now=NOW + timedelta(minutes=1))
    history = {h["id"]: h for h in page["conversations"]}
    assert set(history) == {a.conversation_id, b.conversation_id}
    assert page["conversations_total"] == 2
    assert history[a.conversation_id]["risk"] >= 0.5
    assert history[b.conversation_id]["status"] == "resolved"
    mine = [x for x in page["sanctions"] if x["created_by"] in ("ann", "sue")]
    block, lifted = mine[0], mine[1]
    assert (block["level"], block["state"], block["in_force"]) == ("block", "active", True)
    assert (block["created_by"], block["approved_by"]) == ("sue", "sue")
    assert block["until"] == (NOW + timedelta(minutes=60)).isoformat()
    assert (lifted["level"], lifted["state"], lifted["in_force"]) == ("warn", "lifted", False)
    assert page["csat"] == {
        "sent": 1,
        "answered": 1,
        "mean": 4.0,
        "answers": [
            {
                "conversation_id": b.conversation_id,
                "score": 4,
                "comment": "<b>quick</b>",
                "responded_at": NOW.isoformat(),
            }
        ],
    }
    arche = page["archetype"]
    assert arche is not None and arche["conversation_id"] == b.conversation_id
    assert arche["name"] in (
        "serial_complainer",
        "indecisive",
        "demanding",
        "aggressive",
        "vague",
        "none",
    )
    later = customers.profile(desk, cid, now=NOW + timedelta(hours=2))
    assert not any(x["in_force"] for x in later["sanctions"] if x["level"] == "block")
    # the lift names its sanction in the audit trail
    lifts = [d for k, _, d in kinds(desk, cid) if k == "sanction.lifted"]
    assert lifts == [{"sanction_id": warn["id"], "level": "warn"}]
    # the subject quotes the insult: masked for a user who masks abuse (the default), as on
    # the conversation page; and so is the audit log's page of the customer
    assert "idiots" in history[a.conversation_id]["subject"]
    shown = customers.profile_for(desk, cid, user=ann, now=NOW)
    assert shown["masking"] is True and "idiots" not in json.dumps(shown)
    subject = next(h["subject"] for h in shown["conversations"] if h["id"] == a.conversation_id)
    assert re.search(r"You \[\w+\] broke my router", subject), subject
    records.add_note(desk, cid, "called us idiots again", user=ann, now=NOW)
    notes = audit_log.page_for(desk, AuditFilter(customer_id=cid), user=sue)
    assert notes["total"] > 0 and "idiots" not in json.dumps(notes)


# -- the audit log --------------------------------------------------------------------------------


@pytest.fixture
def trail(desk: Desk, staff: dict[str, User]) -> dict[str, int]:
    """Seven events over three UTC days (NOW is 09:00 on day 0), two customers, one
    conversation; the ids by name."""
    c1, c2 = add_customer(desk, "a-1", "Ada"), add_customer(desk, "a-2", "Bo")
    conv = post(desk, "Where is my parcel?", customer="a-3").conversation_id
    with desk.store.write() as s:
        s.execute(delete(AuditEvent))  # only the events below
    events = [  # kind, actor, day offset (hours), customer, conversation
        ("sanction.active", staff["supervisor"], 0, c1, None),
        ("sanction.lifted", staff["supervisor"], 1, c1, None),
        ("sanctions.report", "system", 2, None, None),
        ("customer.flagged", staff["admin"], 24, c2, None),
        ("customer%note", "system", 25, c2, None),
        ("reply.sent", staff["agent"], 48, None, conv),
        ("conversation.resolved", staff["agent"], 62, None, conv),  # 23:00 on day 2
    ]
    with desk.store.write() as s:
        for kind, actor, hours, cust, cv in events:
            audit(
                s,
                kind,
                now=NOW + timedelta(hours=hours),
                actor=actor,
                customer_id=cust,
                conversation_id=cv,
                reason=f"why {kind}",
            )
    return {"c1": c1, "c2": c2, "conv": conv}


AUDIT_FILTERS: list[tuple[dict[str, Any], int | list[str]]] = [  # filters, kinds found
    ({}, 7),  # everything, newest first
    ({"kind": "sanction."}, ["sanction.lifted", "sanction.active"]),  # a prefix, dot included
    ({"kind": "sanction"}, ["sanctions.report", "sanction.lifted", "sanction.active"]),
    ({"kind": "customer%"}, ["customer%note"]),  # a typed % is literal
    ({"kind": "customer_"}, []),  # and so is _
    ({"actor": "sue"}, ["sanction.lifted", "sanction.active"]),  # a user by name
    ({"actor": "user:adm"}, ["customer.flagged"]),  # or as stored
    ({"actor": "system"}, ["customer%note", "sanctions.report"]),
    ({"customer": "c2"}, ["customer%note", "customer.flagged"]),
    ({"conversation": True}, ["conversation.resolved", "reply.sent"]),
    ({"from": 1, "to": 1}, ["customer%note", "customer.flagged"]),  # one whole UTC day
    ({"from": 2}, ["conversation.resolved", "reply.sent"]),  # open-ended
    ({"from": 2, "to": 2}, ["conversation.resolved", "reply.sent"]),  # 23:00 included
    ({"to": 0}, ["sanctions.report", "sanction.lifted", "sanction.active"]),
    ({"actor": "sue", "kind": "sanction.l"}, ["sanction.lifted"]),  # filters combine
]


def test_audit_filters(desk: Desk, staff: dict[str, User], trail: dict[str, int]) -> None:
    day = NOW.date()
    rows = []
    for filters, expected in AUDIT_FILTERS:
        flt = AuditFilter.of(
            conversation_id=trail["conv"] if filters.get("conversation") else None,
            customer_id=trail[filters["customer"]] if "customer" in filters else None,
            actor=filters.get("actor"),
            kind=filters.get("kind"),
            from_date=day + timedelta(days=filters["from"]) if "from" in filters else None,
            to_date=day + timedelta(days=filters["to"]) if "to" in filters else None,
        )
        found = audit_log.page(desk, flt, user=staff["supervisor"])
        got = [e["kind"] for e in found["items"]]
        if isinstance(expected, int):  # a count, and newest first
            ats = [e["at"] for e in found["items"]]
            rows.append((filters, (found["total"], ats), (expected, sorted(ats, reverse=True))))
        else:
            rows.append((filters, (got, found["total"]), (expected, len(expected))))
    assert not failures(rows), "\n".join(failures(rows))


def test_audit_log_pages_and_is_for_supervisors(
    desk: Desk, staff: dict[str, User], trail: dict[str, int]
) -> None:
    everything = audit_log.page(desk, AuditFilter(), user=staff["admin"])["items"]
    second = audit_log.page(desk, AuditFilter(), user=staff["admin"], limit=3, offset=3)
    assert second["total"] == 7 and second["items"] == everything[3:6]
    with pytest.raises(PermissionDenied):
        audit_log.page(desk, AuditFilter(), user=staff["agent"])
    with pytest.raises(PermissionDenied):
        audit_log.export(desk, AuditFilter(), user=staff["agent"], now=NOW)
    with pytest.raises(InvalidRequest, match="'from' must come before 'to'"):
        AuditFilter.of(from_date=date(2026, 11, 24), to_date=date(2026, 11, 23))
    # an export in small batches gives every row once, in the page's order, and not itself
    batches = list(audit_log.export(desk, AuditFilter(), user=staff["admin"], now=NOW, batch=2))
    assert [len(b) for b in batches] == [2, 2, 2, 1]
    assert [e["id"] for b in batches for e in b] == [e["id"] for e in everything]
    exported = audit_log.page(desk, AuditFilter(kind="audit.exported"), user=staff["admin"])
    assert [e["detail"] for e in exported["items"]] == [{"filters": {}}]


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),  # a formula
        ("+1+1", "'+1+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),  # a tab and a carriage return start a formula in some spreadsheets
        ("\r=1", "'\r=1"),
        ("a=1", "a=1"),  # only the first character counts
        (None, ""),
        (42, "42"),
    ],
)
def test_csv_cells_that_would_run_as_formulas_are_quoted(value: object, cell: str) -> None:
    assert csv_cell(value) == cell


# -- over HTTP: the console's CSV and the REST routes ---------------------------------------------


@pytest.fixture
def client(settings: Settings, desk: Desk, staff: dict[str, User]) -> Iterator[TestClient]:
    with TestClient(create_app(settings, desk=desk)) as c:
        yield c


def sign_in(client: TestClient, desk: Desk, name: str, role: str) -> str:
    """A new console user with a password, signed in; the session's CSRF token afterwards."""
    make_user(desk.store, name, role, password=PASSWORD)
    login = client.get("/console/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', login.text)
    assert token is not None
    r = client.post(
        "/console/login",
        data={"username": name, "password": PASSWORD, "csrf_token": token[1]},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    meta = re.search(r'<meta name="csrf-token" content="([^"]+)">', client.get("/console/").text)
    assert meta is not None
    return meta[1]


def test_the_csv_export_is_filtered_guarded_and_an_attachment(
    client: TestClient, desk: Desk, staff: dict[str, User]
) -> None:
    cid = add_customer(desk, "x-1", "Eve")
    sue = staff["supervisor"]
    for reason in ("=cmd|' /C calc'!A0", "+1", "-1", "@SUM(1)", 'plain, with "quotes"'):
        records.add_sanction(desk, cid, "restrict", reason, user=sue, now=NOW)
    customers.add_flag(desk, cid, "fraud_risk", user=sue, now=NOW, reason="=1+1")
    sign_in(client, desk, "sol", "supervisor")
    r = client.get(f"/console/audit.csv?customer_id={cid}&kind=sanction.&actor=&from=&to=")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    assert re.fullmatch(
        r'attachment; filename="gracedesk-audit-\d{8}-\d{6}\.csv"', r.headers["content-disposition"]
    )
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[0] == ["at", "actor", "kind", "conversation_id", "customer_id", "reason", "detail"]
    body = rows[1:]
    assert [row[5] for row in body] == [  # newest first (same time: by id)
        'plain, with "quotes"',
        "'@SUM(1)",
        "'-1",
        "'+1",
        "'=cmd|' /C calc'!A0",
    ]
    assert {(row[1], row[2], row[3], row[4]) for row in body} == {
        ("user:sue", "sanction.active", "", str(cid))
    }
    assert all(row[0] == NOW.isoformat() for row in body)
    assert [json.loads(row[6])["level"] for row in body] == ["restrict"] * 5
    flagged = list(csv.reader(io.StringIO(client.get("/console/audit.csv?kind=customer.f").text)))
    assert [row[5] for row in flagged[1:]] == ["'=1+1"]
    # the export is audited with its filters
    exports = audit_log.page(desk, AuditFilter(kind="audit.exported"), user=sue)["items"]
    assert (
        exports[-1]["detail"] == {"filters": {"customer_id": cid, "kind": "sanction."}}
        and exports[-1]["actor"] == "user:sol"
    )


def test_the_audit_pages_refuse_agents_and_bad_filters(
    client: TestClient, desk: Desk, staff: dict[str, User]
) -> None:
    token = sign_in(client, desk, "cara", "agent")
    for url in ("/console/audit", "/console/audit.csv"):
        r = client.get(url)
        assert r.status_code == 403 and "needs supervisor or admin" in r.text, url
    assert "/console/audit" not in client.get("/console/customers").text  # not in the nav
    assert client.post("/console/logout", data={"csrf_token": token}).status_code == 200
    sign_in(client, desk, "sol", "supervisor")
    for query in ("conversation_id=abc", "from=yesterday", "from=2026-11-24&to=2026-11-23"):
        r = client.get(f"/console/audit?{query}")
        assert r.status_code == 422, (query, r.status_code)


def test_flag_routes_of_the_api(client: TestClient, desk: Desk, staff: dict[str, User]) -> None:
    tokens = {
        role: make_user(desk.store, f"api-{role}", role)[1] for role in ("agent", "supervisor")
    }
    sup = {"Authorization": f"Bearer {tokens['supervisor']}"}
    agent = {"Authorization": f"Bearer {tokens['agent']}"}
    cid = add_customer(desk, "r-1", "Rae")
    url = f"/api/v1/customers/{cid}/flags"
    r = client.post(url, json={"flag": "Vulnerable", "reason": "bereavement"}, headers=sup)
    assert r.status_code == 201 and r.json() == {"customer_id": cid, "flags": ["vulnerable"]}
    assert client.get(f"/api/v1/customers/{cid}", headers=sup).json()["flags"] == ["vulnerable"]
    cases = [  # body or path, headers, status, problem code
        (("POST", url, {"flag": "vulnerable"}), sup, 409, "GD703"),  # already set
        (("POST", url, {"flag": "legal hold"}), sup, 422, "GD110"),  # not a slug
        (("POST", url, {"flag": "x" * 41}), sup, 422, "GD111"),  # over 40 (the schema)
        (("POST", url, {"flag": "vip", "extra": 1}), sup, 422, "GD111"),  # unknown field
        (("POST", url, {"flag": "vip"}), agent, 403, "GD702"),
        (("POST", "/api/v1/customers/999999/flags", {"flag": "vip"}), sup, 404, "GD701"),
        (("DELETE", f"{url}/vulnerable", None), agent, 403, "GD702"),
        (("DELETE", f"{url}/vip", None), sup, 404, "GD701"),  # not set
    ]
    for (method, path, body), headers, status, code in cases:
        r = client.request(method, path, json=body, headers=headers)
        assert r.status_code == status, (method, path, body, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["code"] == code, r.json()
    r = client.delete(f"{url}/vulnerable", headers=sup)
    assert r.status_code == 200 and r.json() == {"customer_id": cid, "flags": []}
    assert [k for k, _, _ in kinds(desk, cid)] == ["customer.flagged", "customer.unflagged"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/console/conversations/{big}"),
        ("POST", "/console/conversations/{big}/messages/{big}/reveal"),
        ("POST", "/console/escalations/{big}/approve"),
        ("POST", "/console/held/{big}/release"),
        ("POST", "/console/follow-ups/{big}/done"),
        ("GET", "/console/customers/{big}"),
        ("POST", "/console/users/{big}/deactivate"),
    ],
)
def test_console_ids_beyond_the_column_are_refused_not_errors(
    client: TestClient, desk: Desk, method: str, path: str
) -> None:
    """An id larger than any row can hold is a 4xx page on both databases, never a 500."""
    csrf = sign_in(client, desk, "ada", "admin")
    url = path.format(big=2**63)
    r = client.request(method, url, data={"csrf_token": csrf} if method == "POST" else None)
    assert r.status_code == 422, (url, r.status_code)  # refused by the path type, not the store
