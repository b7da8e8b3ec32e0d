"""The masking settings and the abusive words' source rows in the store
(``gracedesk.store.protect``), called directly, and the statements ``service.protect`` runs on
the message hot path, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.exc import NoResultFound

from gracedesk.service import protect
from gracedesk.service.desk import Desk
from gracedesk.store import protect as masking_x
from gracedesk.store.tables import Message

from .conftest import NOW, make_user, post

ABUSIVE = "You stupid idiot, fuck off and refund me"


@contextmanager
def counted(desk: Desk) -> Iterator[list[str]]:
    """The statements run on the write engine while inside."""
    seen: list[str] = []

    def on(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    engine = desk.store.engines.write
    event.listen(engine, "before_cursor_execute", on)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", on)


def test_the_team_setting_is_added_then_changed(desk: Desk) -> None:
    sam, _ = make_user(desk.store, "sam", "supervisor")
    with desk.store.read_core() as conn:
        assert masking_x.setting_row(conn, "mask_abuse") is None
        assert masking_x.setting_value(conn, "mask_abuse") is None
    with desk.store.write_core() as conn:
        masking_x.put_setting(conn, key="mask_abuse", value=False, by=sam.id, now=NOW)
        row = masking_x.setting_row(conn, "mask_abuse")
        assert row is not None and row.value == {"value": False}
    later = NOW + timedelta(minutes=5)
    with desk.store.write_core() as conn:
        masking_x.put_setting(conn, key="mask_abuse", value=True, by=sam.id, now=later)
    with desk.store.read_core() as conn:
        got = masking_x.setting_row(conn, "mask_abuse")
        assert got is not None and (got.updated_by, got.updated_at) == (sam.id, later)
        assert masking_x.setting_value(conn, "mask_abuse") == {"value": True}
        assert masking_x.setting_value(conn, "other") is None


def test_a_users_own_choice(desk: Desk) -> None:
    ana, _ = make_user(desk.store, "ana", "agent")
    with desk.store.read_core() as conn:
        assert masking_x.own_masking(conn, ana.id) is None
        assert masking_x.own_masking(conn, 10_000) is None
        assert masking_x.user(conn, 10_000) is None
    for value in (False, True, None):
        with desk.store.write_core() as conn:
            u = masking_x.user(conn, ana.id)
            assert u is not None and u.name == "ana"
            masking_x.set_user_masking(conn, u.id, value)
        with desk.store.read_core() as conn:
            assert masking_x.own_masking(conn, ana.id) is value


def test_a_reveals_reads_and_the_abusive_words_source(desk: Desk) -> None:
    first = post(desk, ABUSIVE)
    conv = first.conversation_id
    other = post(desk, "Where is my parcel?", customer="c-2")
    with desk.store.read() as s:
        m = masking_x.message(s.connection(), first.message_id)
        assert m is not None and (m.conversation_id, m.author) == (conv, "customer")
        assert masking_x.message(s.connection(), 10_000) is None
        customer = masking_x.customer_of(s.connection(), conv)
        assert customer == masking_x.customer_of(s.connection(), conv)
        assert customer != masking_x.customer_of(s.connection(), other.conversation_id)
        with pytest.raises(NoResultFound):
            masking_x.customer_of(s.connection(), 10_000)
        convs = [conv, other.conversation_id, 10_000]
        versions = masking_x.analysed_customer_messages(s.connection(), convs)
        assert sorted((r.id, r.conversation_id, r.analysis_state) for r in versions) == sorted(
            [(first.message_id, conv, "done"), (other.message_id, other.conversation_id, "done")]
        )
        assert all(r.analysis_attempts == 1 for r in versions)
        rows = masking_x.customer_evidence(s.connection(), [r.id for r in versions] + [10_000])
        assert sorted((r[0], r[1]) for r in rows) == sorted(
            [(first.message_id, ABUSIVE), (other.message_id, "Where is my parcel?")]
        )
        stored = {r[0]: r[2] for r in rows}
        with_signals = {m.id: m.signals["evidence"] for m in _analysed(s, conv)}
        assert stored[first.message_id] == with_signals[first.message_id]  # as stored
        assert stored[first.message_id]
        assert masking_x.customer_evidence(s.connection(), []) == []


def _analysed(s: Any, conv: int) -> list[Any]:
    return list(s.scalars(select(Message).where(Message.conversation_id == conv)))


def test_the_hot_path_runs_one_statement_each(desk: Desk) -> None:
    """``team_masking``, ``_terms_by_conversation`` and ``notification_text`` keep their
    statement counts; ``notification_scrubber`` reads the team's choice once and a
    conversation's words when its first notification needs them. A message's words are read
    once: later reads ask only for the messages' versions."""
    a = post(desk, ABUSIVE).conversation_id
    b = post(desk, "Useless idiots, all of you", customer="c-2").conversation_id
    with desk.store.write_core() as conn:
        with counted(desk) as seen:
            assert protect.team_masking(conn) is True
        assert len(seen) == 1
        protect._TERMS.clear()  # posting the messages above read their words already
        with counted(desk) as seen:
            terms = protect._terms_by_conversation(conn, [a, b])
        assert len(seen) == 2 and "stupid idiot" in terms[a] and terms[b]  # versions, evidence
        with counted(desk) as seen:
            assert protect._terms_by_conversation(conn, [a, b]) == terms
        assert len(seen) == 1  # the versions only: the words are known
        with counted(desk) as seen:
            assert "stupid" not in protect.notification_text(conn, a, "said: stupid idiot")
        assert len(seen) == 2
        with counted(desk) as seen:
            scrub = protect.notification_scrubber()
            assert seen == []
            assert "stupid" not in scrub(conn, a, "stupid idiot")
            assert scrub(conn, b, "bad: " + next(iter(terms[b]))).startswith("bad: [")
            assert "STUPID" not in scrub(conn, a, "a STUPID  idiot")
        assert len(seen) == 3  # the team's choice, then each conversation's versions once


def test_a_new_analysis_of_a_message_is_read_again(desk: Desk) -> None:
    """The words kept per message are those of its version: a re-analysis (one more attempt)
    with other evidence, or an erasure (a new state), is read again, not served from what was
    kept."""
    first = post(desk, ABUSIVE)
    conv = first.conversation_id
    with desk.store.read_core() as conn:
        assert "stupid idiot" in protect._terms_by_conversation(conn, [conv])[conv]
    with desk.store.write() as s:  # re-analysed: no abuse found this time
        m = s.get_one(Message, first.message_id)
        m.signals = {**(m.signals or {}), "evidence": []}
        m.analysed_at = NOW + timedelta(hours=1)
        m.analysis_attempts += 1
    with desk.store.read_core() as conn:
        assert protect._terms_by_conversation(conn, [conv])[conv] == {}
    with desk.store.write() as s:  # erased: the state changes, the evidence is masked
        m = s.get_one(Message, first.message_id)
        m.signals = {**(m.signals or {}), "evidence": [{"signal": "abuse.insult", "text": "x"}]}
        m.analysis_state = "erased"
    with desk.store.read_core() as conn:
        assert protect._terms_by_conversation(conn, [conv])[conv] == {"x": "insult"}


def test_the_words_of_a_message_just_stored_come_from_its_analysis(desk: Desk) -> None:
    """The worker keeps the abusive words of the analyses its batch has just stored
    (``remember_terms``, under the versions it reads): the same words a read of the stored
    evidence gives, so its notifications do not read that evidence back. A transaction that
    rolls back takes them back."""
    posted = post(desk, ABUSIVE)
    conv, mid = posted.conversation_id, posted.message_id
    sig = desk.analyzer.analyze(ABUSIVE)
    with desk.store.write_core() as conn:
        protect._TERMS.clear()
        read_back = protect._terms_by_conversation(conn, [conv])[conv]
        assert "stupid idiot" in read_back
        protect._TERMS.clear()
        with counted(desk) as seen:
            protect.remember_terms(conn, {mid: (sig.evidence, ABUSIVE)})
        assert len(seen) == 1  # the versions
        with counted(desk) as seen:
            assert protect._terms_by_conversation(conn, [conv])[conv] == read_back
        assert len(seen) == 1  # the versions only: the words were kept
    protect._TERMS.clear()  # kept in a transaction that rolls back: forgotten with it
    with pytest.raises(RuntimeError), desk.store.write_core() as conn:
        protect.remember_terms(conn, {mid: (sig.evidence, ABUSIVE)})
        cache = protect._cache_of(conn)
        assert len(cache._terms) == 1
        raise RuntimeError("the batch failed")
    assert len(cache._terms) == 0
    with desk.store.write() as s:  # re-analysed: a new version, read again
        m = s.get_one(Message, mid)
        m.signals = {**(m.signals or {}), "evidence": []}
        m.analysis_attempts += 1
    with desk.store.write_core() as conn:
        assert protect._terms_by_conversation(conn, [conv])[conv] == {}
