"""Imports into a real store, on SQLite and on PostgreSQL: what each format leaves in the desk,
idempotent re-imports, overlapping files, resume after a failure, and no policy on history."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from gracedesk.channels.imports.run import Options, Report, run_import
from gracedesk.service.desk import CustomerRef, Desk, Incoming
from gracedesk.store.tables import (
    AuditEvent,
    Conversation,
    Customer,
    DecisionRow,
    Escalation,
    FollowUp,
    ImportRun,
    Message,
    Notification,
    Sanction,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "import"
SUPPORT = ("support@acme.example",)
AT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)  # when the import runs


def imp(
    desk: Desk,
    name: str | Path,
    fmt: str,
    progress: Callable[[int, int], None] | None = None,
    **kw: Any,
) -> Report:
    path = name if isinstance(name, Path) else DATA / name
    return run_import(
        desk, path, Options(fmt, support=SUPPORT, **kw), clock=lambda: AT, progress=progress
    )


def count(desk: Desk, what: Any) -> int:
    with desk.store.read() as s:
        return int(s.scalar(select(func.count()).select_from(what)) or 0)


def conversation(desk: Desk, ref: str) -> Conversation:
    with desk.store.read() as s:
        return s.scalars(select(Conversation).where(Conversation.external_ref == ref)).one()


def messages(desk: Desk, conv_id: int) -> list[Message]:
    with desk.store.read() as s:
        q = select(Message).where(Message.conversation_id == conv_id).order_by(Message.id)
        return list(s.scalars(q))


@pytest.mark.parametrize(
    ("name", "fmt", "imported", "conversations", "customers"),
    [
        ("support.csv", "csv", 7, 4, 3),
        ("support.jsonl", "jsonl", 3, 2, 2),
        ("twcs.csv", "twcs", 9, 3, 4),  # the second customer in thread 1 is a customer too
        ("support.mbox", "mbox", 5, 2, 2),
    ],
)
def test_each_format_imports_once(
    desk: Desk, name: str, fmt: str, imported: int, conversations: int, customers: int
) -> None:
    first = imp(desk, name, fmt)
    assert (first.imported, first.skipped) == (imported, 0)
    assert (first.conversations, first.customers) == (conversations, customers)
    assert count(desk, Message) == imported and count(desk, Conversation) == conversations
    again = imp(desk, name, fmt)  # the same file: nothing new
    assert (again.imported, again.skipped, again.rejected) == (0, imported, first.rejected)
    assert count(desk, Message) == imported and count(desk, Customer) == customers
    with desk.store.read() as s:
        run = s.scalars(select(ImportRun)).one()  # one row per file and format
        assert (run.state, run.position, run.skipped) == ("done", imported, imported)


def test_csv_history_lands_as_the_live_path_would_leave_it(desk: Desk) -> None:
    imp(desk, "support.csv", "csv")
    c = conversation(desk, "c-100")
    assert c.connector_id is None and c.mailbox_id is None and c.channel == "import"
    assert c.subject == "Broken order" and c.status == "resolved"
    assert c.opened_at == datetime(2026, 10, 1, 7, 0, tzinfo=UTC)  # historical times
    assert c.resolved_at == c.updated_at == datetime(2026, 10, 1, 9, 0, tzinfo=UTC)
    assert c.first_response_at == datetime(2026, 10, 1, 8, 15, tzinfo=UTC)
    ms = messages(desk, c.id)
    assert [m.author for m in ms] == ["customer", "agent", "customer"]
    assert [m.received_at.hour for m in ms] == [7, 8, 9]
    first, reply, last = ms
    assert first.analysis_state == "done" and first.model_version == "gracedesk-signals/1.0 fast"
    assert first.signals is not None and "complaint" in first.signals["labels"]
    assert first.signals["context"]["trajectory"] == "new"
    assert last.signals is not None and last.signals["context"]["trajectory"] != "new"
    assert first.risk == first.signals["risk"] and first.analysed_at == AT
    assert reply.analysis_state == "none" and reply.signals is None
    assert first.idempotency_key == "channel:import:m-1"
    # the conversation's risk is its newest customer message's; labels gather all of them
    assert c.risk == last.risk
    assert "complaint" in c.labels and set(last.signals["labels"]) - {"high_risk"} <= set(c.labels)
    open_one = conversation(desk, "c-200")
    assert open_one.status == "open" and open_one.resolved_at is None
    email = conversation(desk, "c-600")
    assert email.channel == "email" and email.contact == "lee@example.org"
    with desk.store.read() as s:
        dana = s.scalars(select(Customer).where(Customer.external_id == "cust-1")).one()
        assert (dana.name, dana.email) == ("Dana Reyes", "dana@example.com")
        assert dana.created_at == datetime(2026, 10, 1, 7, 0, tzinfo=UTC)  # customer since
        kinds = dict(
            s.execute(select(AuditEvent.kind, func.count()).group_by(AuditEvent.kind)).all()
        )
    assert kinds == {"customer.created": 3, "conversation.imported": 4}


def test_history_is_never_decided_on(desk: Desk) -> None:
    """Abuse and threats long past open no escalation, sanction, notification or follow-up."""
    imp(desk, "twcs.csv", "twcs")
    abusive = conversation(desk, "twitter:20")
    assert "abusive" in abusive.labels and abusive.risk >= 0.5
    for table in (DecisionRow, Escalation, Sanction, Notification, FollowUp):
        assert count(desk, table) == 0, table
    assert abusive.first_response_due is None and abusive.policy_version is None


def test_an_overlapping_file_adds_only_new_messages_to_the_same_conversation(desk: Desk) -> None:
    imp(desk, "twcs.csv", "twcs")
    thread = conversation(desk, "twitter:1")
    more = imp(desk, "twcs_more.csv", "twcs")
    # tweet 4 is there already; 6 answers it: the same conversation, though 3 is not in the file
    assert (more.imported, more.skipped, more.conversations) == (3, 1, 1)
    after = conversation(desk, "twitter:1")
    ms = messages(desk, thread.id)
    assert [m.channel_message_id for m in ms] == ["1", "2", "3", "4", "5", "6"]
    six = ms[-1]
    assert six.signals is not None and six.signals["context"]["trajectory"] != "new"
    assert after.risk == six.risk  # the newest customer message sets the risk
    assert after.last_customer_at == six.received_at and after.status == "resolved"
    assert after.resolved_at == six.received_at
    assert conversation(desk, "twitter:50").customer_id != thread.customer_id


def test_a_later_file_fills_in_but_never_overwrites_a_customer(desk: Desk, tmp_path: Path) -> None:
    imp(desk, "support.csv", "csv")
    later = tmp_path / "later.csv"
    later.write_text(
        "conversation,customer,customer_name,customer_email,author,text,created_at,subject\n"
        "c-900,cust-2,Samuel O.,sam@example.com,customer,Any update?,2026-11-01T10:00:00Z,\n"
        "c-900,cust-1,Someone Else,,customer,Same here.,2026-11-01T11:00:00Z,Late parcels\n",
        encoding="utf-8",
    )
    assert imp(desk, later, "csv").imported == 2
    with desk.store.read() as s:
        sam = s.scalars(select(Customer).where(Customer.external_id == "cust-2")).one()
        dana = s.scalars(select(Customer).where(Customer.external_id == "cust-1")).one()
        updated = s.scalars(select(AuditEvent).where(AuditEvent.kind == "customer.updated")).all()
    assert (sam.name, sam.email) == ("Sam Okafor", "sam@example.com")  # e-mail filled in
    assert dana.name == "Dana Reyes"
    assert conversation(desk, "c-900").subject == "Late parcels"  # the first row that has one
    assert [e.detail["fields"] for e in updated] == [["email"]]


def test_a_live_delivery_of_an_imported_message_is_a_replay(desk: Desk) -> None:
    imp(desk, "twcs.csv", "twcs")
    stored = messages(desk, conversation(desk, "twitter:1").id)[0]
    posted = desk.post_message(
        Incoming(CustomerRef("twitter:115712"), stored.text, channel="twitter",
                 channel_message_id="1"),
        actor=None,
        now=AT,
    )  # fmt: skip
    assert posted.created is False and posted.message_id == stored.id
    assert count(desk, Message) == 9


def test_without_analysis_messages_are_stored_only(desk: Desk) -> None:
    report = imp(desk, "support.mbox", "mbox", analyse=False)
    assert report.imported == 5
    with desk.store.read() as s:
        states = set(s.scalars(select(Message.analysis_state)))
    assert states == {"none"}
    c = conversation(desk, "email:<a1@example.com>")
    assert c.risk == 0.0 and c.labels == [] and c.contact == "dana@example.com"


class Crash(RuntimeError):
    pass


def test_a_failed_import_resumes_from_its_last_batch(desk: Desk) -> None:
    calls: list[int] = []

    def crash_after_two_batches(done: int, total: int) -> None:
        calls.append(done)
        if len(calls) == 3:  # the start, then two committed batches
            raise Crash

    with pytest.raises(Crash):
        imp(desk, "twcs.csv", "twcs", progress=crash_after_two_batches, batch=2)
    assert count(desk, Message) == 4
    with desk.store.read() as s:
        run = s.scalars(select(ImportRun)).one()
        assert (run.state, run.position, run.imported) == ("running", 4, 4)
    seen: list[int] = []
    rest = imp(desk, "twcs.csv", "twcs", progress=lambda d, t: seen.append(d), batch=2)
    assert seen[0] == 4 and rest.resumed_at == 4  # committed batches are not read again
    assert (rest.imported, rest.skipped, rest.total) == (9, 0, 9)
    assert count(desk, Message) == 9 and count(desk, Conversation) == 3
    assert rest.rejected == 5  # the rejections are the file's, listed again
