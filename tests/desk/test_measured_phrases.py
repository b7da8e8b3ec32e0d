"""The desk ranks suggested phrases by how often they calmed its own customers: once a phrase
has enough measured replies, the guidance of a new message carries the evidence."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from gracedesk.guidance.phrases import MIN_MEASURED
from gracedesk.service import actions
from gracedesk.service.desk import CustomerRef, Desk, Incoming

from .conftest import NOW, make_user

ANGRY = "You charged me twice and nobody answers. This is ridiculous, fix it now!"


def _phrases(guidance: dict[str, Any] | None) -> list[dict[str, Any]]:
    assert guidance is not None
    return list(guidance["phrases"])


def test_measured_phrases_reach_the_agent_with_their_evidence(desk: Desk) -> None:
    agent, _ = make_user(desk.store, "ana", "agent")
    used = None
    for i in range(MIN_MEASURED + 2):
        at = NOW + timedelta(hours=i)
        ref = CustomerRef(f"m-{i}", f"Customer {i}")
        first = desk.post_message(Incoming(ref, ANGRY), actor=None, now=at)
        assert first.analysis == "done"
        top = _phrases(first.guidance)[0]
        used = used or top["id"]
        text = next(p["text"] for p in _phrases(first.guidance) if p["id"] == used)
        actions.send_reply(desk, first.conversation_id, text, user=agent, now=at)
        calmer = desk.post_message(
            Incoming(ref, "Thank you, that helps.", conversation_id=first.conversation_id),
            actor=None,
            now=at + timedelta(minutes=30),
        )
        assert calmer.analysis == "done"

    later = NOW + timedelta(days=1)
    assert desk.phrase_stats is not None
    stats = desk.phrase_stats.get(now=later)
    calmed, measured = stats.counts(used)
    assert measured >= MIN_MEASURED and calmed == measured

    fresh = desk.post_message(Incoming(CustomerRef("new"), ANGRY), actor=None, now=later)
    shown = {p["id"]: p for p in _phrases(fresh.guidance)}
    assert used in shown
    why = " ".join(shown[used]["why"])
    assert f"calmed {calmed} of {measured} customers" in why


def test_without_measured_replies_the_ranking_is_unchanged(
    store: Any, policy: Any, analyzer: Any
) -> None:
    plain = Desk(store, policy=policy, analyzer=analyzer, measured_phrases=False)
    ranked = Desk(store, policy=policy, analyzer=analyzer)
    a = plain.post_message(Incoming(CustomerRef("a"), ANGRY), actor=None, now=NOW)
    b = ranked.post_message(Incoming(CustomerRef("b"), ANGRY), actor=None, now=NOW)
    assert [p["id"] for p in _phrases(a.guidance)] == [p["id"] for p in _phrases(b.guidance)]
