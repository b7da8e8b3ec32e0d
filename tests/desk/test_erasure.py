"""Erasure (right to be forgotten) on SQLite and PostgreSQL: nothing identifying remains.

A customer with a distinctive name, e-mail, phone and external id writes messages with a
distinctive phrase; agents reply, promise, escalate, note, sanction and resolve; the customer
answers the survey; notifications are queued, sent and failed. After the erasure every text and
JSON column of every table (``Base.metadata``) is scanned for those strings. The conversations
still count (risk, labels, CSAT score, numbers of conversations and messages), the audit log says
who erased whom and when, and another customer's data is untouched.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from gracedesk.model.situation import Request
from gracedesk.service import actions, erasure, records, sweeps, views
from gracedesk.service.desk import CustomerRef, Desk, Incoming
from gracedesk.settings import Settings
from gracedesk.store.engine import Encoded
from gracedesk.store.tables import (
    AuditEvent,
    Base,
    Conversation,
    CsatResponse,
    Customer,
    Message,
    Notification,
)
from gracedesk.web.app import create_app

from .conftest import NOW, make_user, post

EXT = "zq-ext-4417-ovid"
NAME = "Quillon Marbleford"
EMAIL = "quillon.marbleford@zexample.org"
PHONE = "+44 7700 900417"
PHRASE = "purple walrus teapot"
# what must not be found anywhere after the erasure (case-insensitive)
NEEDLES = ("quillon", "marbleford", "zexample", "900417", "zq-ext-4417", "walrus", "teapot")
REF = CustomerRef(EXT, name=NAME, email=EMAIL, phone=PHONE)


def leftovers(desk: Desk) -> list[str]:
    """Every (table, column) of every row whose text or JSON holds one of the needles."""
    found = []
    with desk.store.read() as s:
        for table in Base.metadata.sorted_tables:
            for row in s.execute(select(table)).mappings():
                for col, value in row.items():
                    if value is None or isinstance(value, int | float | bool):
                        continue
                    text = value if isinstance(value, str) else json.dumps(value, default=str)
                    hits = [n for n in NEEDLES if n in text.lower()]
                    if hits:
                        found.append(f"{table.name}.{col}: {hits} in {text[:120]!r}")
    return found


@pytest.fixture
def people(desk: Desk) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, role in (("ann", "agent"), ("sue", "supervisor"), ("adm", "admin")):
        user, tok = make_user(desk.store, name, role, email=f"{name}@example.com")
        out[role] = user
        out[f"{role}_h"] = {"Authorization": f"Bearer {tok}"}
    return out


def tell(desk: Desk, people: dict[str, Any]) -> dict[str, int]:
    """The customer's whole story, touching every table that can hold their data."""
    agent, sup = people["agent"], people["supervisor"]
    first = desk.post_message(
        Incoming(
            REF,
            f"Quillon here. You useless idiots lost my {PHRASE}. I want a refund or my lawyer "
            "will sue and I'll post it on twitter.",
            channel="email",
            channel_message_id=f"<{PHRASE.replace(' ', '-')}@zexample.org>",
            request=Request("refund", 500.0),
        ),
        actor=None,
        now=NOW,
        idempotency_key=f"walrus-{EXT}",
    )
    cid = first.conversation_id
    customer_id = views.conversation_detail(desk, cid, user=sup, now=NOW)["customer"]["id"]
    actions.send_reply(
        desk,
        cid,
        f"I'm sorry Quillon, I'll call you back tomorrow at 10am about the {PHRASE}.",
        user=agent,
        now=NOW,
    )
    desk.post_message(
        Incoming(REF, f"My {PHRASE} is still missing, Marbleford is my name.", channel="email"),
        actor=None,
        now=NOW + timedelta(minutes=5),
    )
    records.add_follow_up(
        desk,
        cid,
        user=agent,
        promise=f"Call Quillon on {PHONE} about the {PHRASE}",
        due=NOW + timedelta(hours=2),
        now=NOW,
    )
    esc = actions.escalate(
        desk, cid, user=agent, reason=f"{NAME} is furious about the {PHRASE}", now=NOW
    )
    records.add_note(desk, customer_id, f"Quillon prefers calls on {PHONE}", user=agent, now=NOW)
    records.add_sanction(
        desk, customer_id, "warn", f"insults over the {PHRASE}", user=agent, now=NOW
    )
    actions.decide_escalation(
        desk, esc["id"], user=sup, approve=True, note=f"Spoke to Quillon, {EMAIL}", now=NOW
    )
    sweeps.sweep_follow_ups(desk, now=NOW + timedelta(days=2))  # reminders and misses queued
    with desk.store.write() as s:  # some of the outbox went out, one gave up on an address
        ids = list(s.scalars(select(Notification.id).order_by(Notification.id)))
        s.execute(update(Notification).where(Notification.id == ids[0]).values(state="sent"))
        s.execute(
            update(Notification)
            .where(Notification.id == ids[1])
            .values(state="failed", last_error=f"550 {EMAIL}: no such user")
        )
    actions.resolve(desk, cid, user=sup, resolution=f"Refunded Quillon for the {PHRASE}", now=NOW)
    with desk.store.read() as s:
        token = s.scalars(select(CsatResponse.token)).one()
    actions.submit_csat(desk, token, 4, f"the {PHRASE} came late", now=NOW)
    views.customer_export(desk, customer_id, user=sup, now=NOW)
    return {"customer": customer_id, "conversation": cid}


def bystander(desk: Desk) -> int:
    return post(
        desk, "Where is my ordinary parcel?", customer="c-other", name="Olive Other"
    ).conversation_id


@pytest.fixture
def api(settings: Settings, desk: Desk) -> Iterator[TestClient]:
    with TestClient(create_app(settings, desk=desk)) as client:
        yield client


def test_erasure_leaves_nothing_identifying_and_keeps_the_figures(
    api: TestClient, desk: Desk, people: dict[str, Any]
) -> None:
    ids = tell(desk, people)
    other = bystander(desk)
    before = leftovers(desk)
    assert any(x.startswith("messages.text") for x in before)  # the scan does find them
    assert any(x.startswith("customers.email") for x in before)
    with desk.store.read() as s:
        counts = (
            s.scalar(select(func.count()).select_from(Conversation)),
            s.scalar(select(func.count()).select_from(Message)),
        )
        risk = s.get_one(Conversation, ids["conversation"]).risk
        labels = s.get_one(Conversation, ids["conversation"]).labels

    r = api.post(f"/api/v1/customers/{ids['customer']}/erase", headers=people["admin_h"])
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["conversations"] == 1 and done["messages"] == 3 and done["notes"] == 1
    assert done["notifications_dropped"] >= 1 and done["notifications_masked"] == 2

    assert leftovers(desk) == []

    # the figures still count the conversation
    with desk.store.read() as s:
        assert (
            s.scalar(select(func.count()).select_from(Conversation)),
            s.scalar(select(func.count()).select_from(Message)),
        ) == counts
        conv = s.get_one(Conversation, ids["conversation"])
        assert (conv.risk, conv.labels, conv.status) == (risk, labels, "resolved")
        assert s.scalars(select(CsatResponse.score)).one() == 4
        msg = s.scalars(
            select(Message)
            .where(Message.conversation_id == conv.id, Message.author == "customer")
            .order_by(Message.id)
        ).first()
        assert msg is not None and msg.signals is not None
        assert msg.signals["risk"] > 0 and msg.signals["labels"]
        assert {e["text"] for e in msg.signals["evidence"]} == {erasure.MASK}
        customer = s.get_one(Customer, ids["customer"])
        assert customer.external_id.startswith("erased-") and customer.flags == ["erased"]
        assert (customer.name, customer.email, customer.phone) == (None, None, None)
        # the audit says who erased whom and when, and still holds the export
        erased = s.scalars(select(AuditEvent).where(AuditEvent.kind == "customer.erased")).one()
        assert (erased.actor, erased.actor_id) == ("user:adm", people["admin"].id)
        assert erased.at > NOW  # the API's clock: when it happened
        assert erased.customer_id == ids["customer"] and erased.detail["messages"] == 3
        exported = s.scalars(select(AuditEvent).where(AuditEvent.kind == "customer.exported")).one()
        assert exported.actor == "user:sue" and exported.customer_id == ids["customer"]
    view = api.get(f"/api/v1/customers/{ids['customer']}", headers=people["agent_h"]).json()
    assert view["csat_mean"] == 4 and view["name"] is None and view["flags"] == ["erased"]
    page = api.get(f"/api/v1/conversations/{ids['conversation']}", headers=people["agent_h"])
    assert page.status_code == 200 and page.json()["messages"][0]["text"] == erasure.MASK
    listing = api.get("/api/v1/conversations?status=resolved", headers=people["agent_h"]).json()
    assert ids["conversation"] in {c["id"] for c in listing["items"]}

    # the other customer is untouched; a second erasure is a conflict
    detail = views.conversation_detail(desk, other, user=people["supervisor"], now=NOW)
    assert detail["messages"][0]["text"] == "Where is my ordinary parcel?"
    assert detail["customer"]["name"] == "Olive Other"
    again = api.post(f"/api/v1/customers/{ids['customer']}/erase", headers=people["admin_h"])
    assert again.status_code == 409 and again.json()["code"] == "GD703"
    missing = api.post("/api/v1/customers/999999/erase", headers=people["admin_h"])
    assert missing.status_code == 404


def test_the_same_customer_writing_again_is_a_new_customer(
    desk: Desk, people: dict[str, Any]
) -> None:
    ids = tell(desk, people)
    erasure.erase(desk.store, ids["customer"], actor=people["admin"], now=NOW)
    again = desk.post_message(Incoming(REF, "Hello again"), actor=None, now=NOW)
    with desk.store.read() as s:
        conv = s.get_one(Conversation, again.conversation_id)
        assert conv.customer_id != ids["customer"]


def test_a_message_analysed_while_its_customer_is_erased_is_not_stored(
    desk: Desk, people: dict[str, Any]
) -> None:
    real = desk.analyzer

    class ErasingAnalyzer:
        """The erasure commits while the message is being analysed."""

        tier = real.tier

        def analyze(self, text: str, *, context: Any = None, id: Any = None) -> Any:
            with desk.store.read() as s:
                cid = s.scalars(select(Customer.id).where(Customer.external_id == EXT)).one()
            erasure.erase(desk.store, cid, actor="system", now=NOW)
            return real.analyze(text, context=context, id=id)

    desk.analyzer = ErasingAnalyzer()  # type: ignore[assignment]
    desk.post_message(
        Incoming(REF, f"You idiots lost my {PHRASE}, my lawyer will hear of it."),
        actor=None,
        now=NOW,
    )
    assert leftovers(desk) == []
    with desk.store.read() as s:
        assert s.scalars(select(Message.analysis_state)).one() == "erased"
    assert desk.pending_analysis(now=NOW + timedelta(hours=1)) == []


def test_an_erased_message_is_not_analysed_again(desk: Desk, people: dict[str, Any]) -> None:
    """Re-analysis (the sweep, or a supervisor's request) never takes an erased message: its
    state stays ``erased`` for good, which the worker's kept turns rely on
    (``store.situations.TurnCache``)."""
    ids = tell(desk, people)
    with desk.store.read() as s:
        mid = s.scalars(
            select(Message.id).where(Message.author == "customer").order_by(Message.id)
        ).first()
    erasure.erase(desk.store, ids["customer"], actor=people["admin"], now=NOW)
    answer = desk.reanalyse(mid, now=NOW + timedelta(hours=1), grace_s=0.0)
    assert answer.analysis == "erased"
    with desk.store.read() as s:
        assert s.get_one(Message, mid).analysis_state == "erased"
    assert leftovers(desk) == []


def test_who_may_erase(settings: Settings, desk: Desk, people: dict[str, Any]) -> None:
    cid = post(desk, "Where is my parcel?", customer="c-a").conversation_id
    with desk.store.read() as s:
        customer = s.get_one(Conversation, cid).customer_id
    url = f"/api/v1/customers/{customer}/erase"
    with TestClient(create_app(settings, desk=desk)) as client:  # the default: admins only
        assert client.post(url, headers=people["agent_h"]).status_code == 403
        r = client.post(url, headers=people["supervisor_h"])
        assert r.status_code == 403 and "admin" in r.json()["detail"]
    allowing = settings.model_copy(update={"erase_by_supervisors": True})
    with TestClient(create_app(allowing, desk=desk)) as client:
        assert client.post(url, headers=people["agent_h"]).status_code == 403
        assert client.post(url, headers=people["supervisor_h"]).status_code == 200


def test_the_cli_erases_after_confirmation(
    desk: Desk, db_url: str, people: dict[str, Any], tmp_path: Any, monkeypatch: Any
) -> None:
    from gracedesk.cli.main import cli

    monkeypatch.setenv("GRACEDESK_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("GRACEDESK_DATABASE_URL", db_url)
    ids = tell(desk, people)
    no = CliRunner().invoke(cli, ["customers", "erase", str(ids["customer"])], input="n\n")
    assert no.exit_code == 1 and "cannot be undone" in no.output
    assert leftovers(desk) != []  # nothing was erased
    yes = CliRunner().invoke(cli, ["customers", "erase", str(ids["customer"]), "--yes"])
    assert yes.exit_code == 0, yes.output
    assert "erased customer" in yes.output and "3 message(s)" in yes.output
    assert leftovers(desk) == []
    with desk.store.read() as s:
        erased = s.scalars(select(AuditEvent).where(AuditEvent.kind == "customer.erased")).one()
        assert erased.actor.startswith("cli:") and erased.actor_id is None
    twice = CliRunner().invoke(cli, ["customers", "erase", str(ids["customer"]), "--yes"])
    assert twice.exit_code == 1 and "already erased" in twice.output
    unknown = CliRunner().invoke(cli, ["customers", "erase", "999999", "--yes"])
    assert unknown.exit_code == 1 and "does not exist" in unknown.output


def test_scrub_keeps_numbers_and_vocabulary_and_masks_text() -> None:
    got = erasure.scrub(
        {
            "risk": 0.9,
            "labels": ["abusive", "wants refund now"],
            "evidence": [{"signal": "abuse.insult", "start": 1, "end": 5, "text": "idiots"}],
            "id": "a@b.c",
            "phrases": [{"id": "ack.anger", "text": "Sorry, Quillon"}],
        }
    )
    assert got == {
        "risk": 0.9,
        "labels": ["abusive", erasure.MASK],
        "evidence": [{"signal": "abuse.insult", "start": 1, "end": 5, "text": erasure.MASK}],
        "id": erasure.MASK,
        "phrases": [{"id": "ack.anger", "text": erasure.MASK}],
    }


def test_notifications_to_a_non_ascii_address_are_dropped_in_either_encoding(
    desk: Desk, people: dict[str, Any]
) -> None:
    """The outbox is searched for the customer's address as the recipients' JSON holds it:
    UTF-8 as written now (orjson), or ``\\u`` escapes as ``json.dumps`` wrote it before."""
    email = "zoë.quillon@zexample.org"
    first = desk.post_message(
        Incoming(CustomerRef("zoe-1", name="Zoë", email=email), "Where is my parcel?"),
        actor=None,
        now=NOW,
    )
    customer_id = views.conversation_detail(
        desk, first.conversation_id, user=people["supervisor"], now=NOW
    )["customer"]["id"]
    with desk.store.write() as s:
        for key in ("utf8", "escaped"):
            s.add(
                Notification(
                    key=f"zoe-{key}",
                    event="survey",
                    recipients=[email],
                    subject="How did we do?",
                    body="Tell us",
                    payload={},
                    state="pending",
                    next_attempt_at=NOW,
                    created_at=NOW,
                )
            )
        s.flush()
        s.execute(  # a row written before orjson: the address in \\u escapes
            update(Notification)
            .where(Notification.key == "zoe-escaped")
            .values(recipients=Encoded(json.dumps([email])))
        )
    with desk.store.read() as s:
        stored = dict(s.execute(select(Notification.key, Notification.recipients)).all())
    assert stored["zoe-utf8"] == stored["zoe-escaped"] == [email]
    erasure.erase(desk.store, customer_id, actor=people["admin"], now=NOW)
    with desk.store.read() as s:
        keys = set(s.scalars(select(Notification.key)))
    assert not keys & {"zoe-utf8", "zoe-escaped"}
