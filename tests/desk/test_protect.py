"""Protecting agents: abusive words masked (and revealed on purpose), and rotation off abuse.

``mask`` and ``scrub`` are pure (tables of cases); the settings, reveals, the masked views, the
notifications and the rotation run on real SQLite and PostgreSQL (the ``desk`` fixture).
"""

from __future__ import annotations

import dataclasses
import shutil
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from gracedesk.errors import NotFound, PermissionDenied, PolicyInvalid
from gracedesk.policy import load_policy
from gracedesk.policy.loader import default_dir
from gracedesk.policy.schema import Wellbeing
from gracedesk.service import actions, protect, records, views
from gracedesk.service.desk import Desk
from gracedesk.service.protect import mask, masked_evidence, scrub
from gracedesk.store.tables import AuditEvent, Escalation, Notification, User

from .conftest import NOW, make_user, post


def ev(signal: str, start: int, end: int, text: str) -> dict[str, Any]:
    return {"signal": signal, "start": start, "end": end, "text": text}


# -- mask(): one message by its evidence --------------------------------------------------------

MASK_CASES = [
    # no evidence: the text as it is
    ("Where is my parcel?", [], "Where is my parcel?"),
    # an insult at the very start and profanity at the very end
    (
        "idiots, fix it, damn",
        [ev("abuse.insult", 0, 6, "idiots"), ev("abuse.profanity", 16, 20, "damn")],
        "[insult], fix it, [profanity]",
    ),
    # overlapping spans merge into one placeholder naming both kinds
    (
        "You stupid idiot!",
        [ev("abuse.insult", 4, 16, "stupid idiot"), ev("abuse.profanity", 11, 16, "idiot")],
        "You [insult, profanity]!",
    ),
    # "offensive" says least: named only when it is the only kind
    (
        "so stupid",
        [ev("abuse.offensive", 3, 9, "stupid"), ev("abuse.insult", 3, 9, "stupid")],
        "so [insult]",
    ),
    ("so stupid", [ev("abuse.offensive", 3, 9, "stupid")], "so [offensive]"),
    # evidence of other signals is never masked
    (
        "I want a refund now",
        [ev("requests.refund", 9, 15, "refund"), ev("emotions.anger", 16, 19, "now")],
        "I want a refund now",
    ),
    # the same word said twice: both go, though the evidence points at one
    ("idiot! IDIOT!", [ev("abuse.insult", 0, 5, "idiot")], "[insult]! [insult]!"),
    # offsets that do not fit the text: found by its words (masking fails closed)
    ("you morons", [ev("abuse.insult", 40, 46, "morons")], "you [insult]"),
    # a masked word is not cut out of a longer one
    ("classy ass", [ev("abuse.profanity", 7, 10, "ass")], "classy [profanity]"),
]


@pytest.mark.parametrize(("text", "evidence", "masked"), MASK_CASES)
def test_mask(text: str, evidence: list[dict[str, Any]], masked: str) -> None:
    got, spans = mask(text, evidence)
    assert got == masked
    for sp in spans:  # each span says where its placeholder is and where the words were
        assert got[sp.start : sp.end] == f"[{sp.label}]"
        assert sp.source_end <= len(text)


def test_masked_evidence_moves_the_other_signals_onto_the_masked_text() -> None:
    text = "You useless idiots, refund me now"
    evidence = [
        ev("abuse.insult", 4, 18, "useless idiots"),
        ev("causes.poor_service", 0, 18, "You useless idiots"),  # overlaps the insult
        ev("requests.refund", 20, 26, "refund"),  # after it: shifted
    ]
    masked, moved = masked_evidence(text, evidence)
    assert masked == "You [insult], refund me now"
    by_signal = {e["signal"]: e for e in moved}
    assert by_signal["abuse.insult"]["text"] == "[insult]"
    assert by_signal["causes.poor_service"]["text"] == "You [insult]"
    assert by_signal["requests.refund"]["text"] == "refund"
    assert all(masked[e["start"] : e["end"]] == e["text"] for e in moved)
    assert "idiots" not in repr(moved)


def test_masked_text_stays_escaped_when_rendered() -> None:
    from gracedesk.web.console_render import templates

    text = '<b onclick="x()">idiot</b> & co'
    masked, moved = masked_evidence(text, [ev("abuse.insult", 17, 22, "idiot")])
    assert masked == '<b onclick="x()">[insult]</b> & co'  # plain text: escaping is Jinja's
    macros = templates().env.get_template("_macros.html").module
    html = str(macros.evidence_text(masked, moved))  # type: ignore[attr-defined]
    assert "<b" not in html and "&lt;b onclick=&#34;x()&#34;&gt;" in html
    assert '<mark class="ev ev-abuse" title="abuse.insult">[insult]</mark>' in html
    assert "&amp; co" in html and "idiot<" not in html


SCRUB_CASES = [
    # any case, any spacing
    ("Re: You USELESS  idiots", {"useless idiots": "insult"}, "Re: You [insult]"),
    # the longer phrase first, then the word alone
    ("stupid idiot, idiot", {"idiot": "insult", "stupid idiot": "insult"}, "[insult], [insult]"),
    # not inside a longer word
    ("a classy pass", {"ass": "profanity"}, "a classy pass"),
    # no terms: unchanged
    ("anything", {}, "anything"),
]


@pytest.mark.parametrize(("text", "terms", "scrubbed"), SCRUB_CASES)
def test_scrub(text: str, terms: dict[str, str], scrubbed: str) -> None:
    assert scrub(text, terms) == scrubbed


# -- who sees masked words ------------------------------------------------------------------------

SETTINGS = [
    # (team default set by a supervisor, the user's own choice) -> masked?
    (None, None, True),  # nobody chose: masked
    (False, None, False),  # the team shows the words
    (True, None, True),
    (False, True, True),  # the user's own choice wins over the team's
    (True, False, False),
    (None, False, False),
]


@pytest.mark.parametrize(("team", "own", "masked"), SETTINGS)
def test_masking_resolution(desk: Desk, team: bool | None, own: bool | None, masked: bool) -> None:
    sup, _ = make_user(desk.store, "sam", "supervisor")
    ana, _ = make_user(desk.store, "ana", "agent")
    if team is not None:
        protect.set_team_masking(desk, sup, team, NOW)
    if own is not None:
        assert protect.set_user_masking(desk, ana, own, NOW)["masked"] is masked
    assert protect.masking_for(desk, ana) is masked


def test_settings_changes_are_audited_and_the_team_default_is_for_supervisors(desk: Desk) -> None:
    sup, _ = make_user(desk.store, "sam", "supervisor")
    ana, _ = make_user(desk.store, "ana", "agent")
    with pytest.raises(PermissionDenied):
        protect.set_team_masking(desk, ana, False, NOW)
    protect.set_team_masking(desk, sup, False, NOW)
    protect.set_user_masking(desk, ana, True, NOW + timedelta(minutes=1))
    protect.set_user_masking(desk, ana, None, NOW + timedelta(minutes=2))  # back to the team's
    assert protect.masking_for(desk, ana) is False
    assert protect.team_setting(desk)["updated_by"] == "sam"
    with desk.store.read() as s:
        events = s.scalars(select(AuditEvent).where(AuditEvent.kind == "settings.changed")).all()
        rows = [(e.actor, e.detail["scope"], e.detail["old"], e.detail["new"]) for e in events]
    assert rows == [
        ("user:sam", "team", True, False),
        ("user:ana", "user", None, True),
        ("user:ana", "user", True, None),
    ]


# -- the masked views and a reveal -----------------------------------------------------------------

ABUSIVE = "You stupid idiot, fuck off and refund me"
RAW = ("stupid", "idiot", "fuck")


def test_the_conversation_is_masked_everywhere_until_one_message_is_revealed(desk: Desk) -> None:
    ana, _ = make_user(desk.store, "ana", "agent")
    first = post(desk, ABUSIVE)
    second = post(desk, "Still waiting, idiot.", conversation_id=first.conversation_id)
    conv = first.conversation_id
    shown = protect.conversation_view(desk, conv, user=ana, now=NOW)
    assert shown["masking"] is True
    texts = [m["text"] for m in shown["messages"]]
    assert texts[0].startswith("You [insult, profanity]") and "[" in texts[1]
    for word in RAW:  # nowhere: messages, subject, guidance, evidence, decisions
        assert word not in repr(shown).lower(), word
    assert shown["messages"][0]["masked"] and not shown["messages"][0]["revealed"]

    protect.reveal(desk, conv, first.message_id, user=ana, now=NOW)
    seen = protect.conversation_view(desk, conv, user=ana, now=NOW, revealed=[first.message_id])
    assert seen["messages"][0]["text"] == ABUSIVE and seen["messages"][0]["revealed"]
    assert "idiot" not in seen["messages"][1]["text"]  # only the one message
    assert "stupid" not in seen["subject"]
    with desk.store.read() as s:
        e = s.scalars(select(AuditEvent).where(AuditEvent.kind == "message.revealed")).one()
        assert (e.actor, e.conversation_id, e.detail["message_id"]) == (
            "user:ana",
            conv,
            first.message_id,
        )
    with pytest.raises(NotFound):  # a message of another conversation
        protect.reveal(desk, conv + 1, second.message_id, user=ana, now=NOW)

    protect.set_user_masking(desk, ana, False, NOW)
    plain = protect.conversation_view(desk, conv, user=ana, now=NOW)
    assert plain["masking"] is False and plain["messages"][0]["text"] == ABUSIVE


def test_listings_packets_and_notifications_carry_no_abusive_words(desk: Desk) -> None:
    ana, _ = make_user(desk.store, "ana", "agent")
    r = post(desk, ABUSIVE)
    actions.escalate(  # a new escalation, so a new notification, in the agent's words
        desk,
        r.conversation_id,
        user=ana,
        reason="called me a stupid idiot",
        target="specialist_team",
        now=NOW,
    )
    listing = protect.listing_view(
        desk, views.list_conversations(desk, user=ana, now=NOW), user=ana
    )
    pending = protect.escalations_view(desk, views.list_escalations(desk), user=ana)
    assert pending and all(e["packet"] for e in pending)  # the hand-over packet, as shown
    with desk.store.read() as s:
        sent = [(n.subject, n.body) for n in s.scalars(select(Notification))]
    assert sent  # escalations told the supervisor
    for word in RAW:
        assert word not in repr(listing).lower()
        assert word not in repr(pending).lower()
        assert word not in repr(sent).lower()
    assert any("[insult" in body for _, body in sent)


# -- rotation ---------------------------------------------------------------------------------------

HOSTILE = "You are pathetic clowns, useless morons. Refund me! ({})"
REPLY = "I'm sorry. I'll look into it."
REASON = "ana handled 3 abusive conversations in the last 120 minutes (limit 3); routed to "


def answered(desk: Desk, agent: User, n: int, *, at: datetime, tag: str) -> None:
    """``agent`` answers ``n`` abusive customers, each in a conversation of its own."""
    for i in range(n):
        r = post(desk, HOSTILE.format(f"{tag}{i}"), customer=f"{tag}-{i}", at=at)
        actions.send_reply(
            desk, r.conversation_id, REPLY, user=agent, now=at + timedelta(seconds=30)
        )


def turns_abusive(desk: Desk, agent: User, *, at: datetime, customer: str = "c-next") -> Any:
    """A polite conversation ``agent`` holds, then the customer's abusive message in it."""
    r = post(desk, "Hello, where is my parcel?", customer=customer, at=at)
    actions.assign(desk, r.conversation_id, user=agent, assignee=None, now=at)
    later = at + timedelta(minutes=1)
    return post(desk, HOSTILE.format(customer), customer=customer, at=later)


def rotation_rows(desk: Desk, conv_id: int) -> list[dict[str, Any]]:
    detail = views.conversation_detail(desk, conv_id, user=User(id=0, role="admin"), now=NOW)
    return [d for d in detail["decisions"] if d["rule_id"] == "wellbeing.rotation"]


def team(desk: Desk, sam: User, at: datetime) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in views.team(desk, user=sam, now=at)}


def test_the_fourth_abusive_conversation_goes_to_the_least_exposed_agent(desk: Desk) -> None:
    ana, _ = make_user(desk.store, "ana", "agent")
    ben, _ = make_user(desk.store, "ben", "agent")
    cy, _ = make_user(desk.store, "cy", "agent")
    sam, _ = make_user(desk.store, "sam", "supervisor")
    answered(desk, ana, 3, at=NOW, tag="a")
    answered(desk, ben, 1, at=NOW, tag="b")  # ben: 1 exposure; cy: none but 1 open conversation
    held = post(desk, "Can I change my address?", customer="c-cy")
    actions.assign(desk, held.conversation_id, user=cy, assignee=None, now=NOW)
    later = NOW + timedelta(minutes=10)
    r = turns_abusive(desk, ana, at=later)
    detail = views.conversation_detail(desk, r.conversation_id, user=sam, now=later)
    assert detail["assignee"] == "cy"  # fewest exposures first, then the lowest load
    [d] = rotation_rows(desk, r.conversation_id)
    assert (d["action"], d["target"]) == ("reassign", "cy")
    assert d["reason"].startswith(REASON + "cy, the least exposed")
    assert d["policy_version"] == desk.policy.version
    assert d in detail["decisions"]  # among the conversation's decisions (console and API)
    with desk.store.read() as s:
        kinds = list(s.scalars(select(AuditEvent.kind)))
        told = s.scalars(select(Notification).where(Notification.event == "agent.over_exposed"))
        assert [n.recipients for n in told] == [["lead@example.com"]]
    assert "conversation.rotated" in kinds

    # the team view shows it, and ana is offered a break and a check-in
    rows = team(desk, sam, later)
    assert rows["ana"]["wellbeing"]["over_limit"] and rows["ana"]["wellbeing"]["rotated"] == 1
    assert "suggest a break and check in" in rows["ana"]["nudge"]
    assert not rows["cy"]["wellbeing"]["over_limit"]
    offer = views.me(desk, user=ana, now=later)["wellbeing"]["offer"]
    assert "break" in offer and "check-in with your supervisor" in offer

    # ana taking a new abusive conversation herself: it goes to cy too
    fresh = post(desk, HOSTILE.format("new"), customer="c-new", at=later)
    taken = actions.assign(desk, fresh.conversation_id, user=ana, assignee=None, now=later)
    assert taken["assignee"] == "cy" and "routed to cy" in taken["rotation"]["reason"]
    assert len(rotation_rows(desk, fresh.conversation_id)) == 1

    # a break is the recovery: the count starts again
    records.take_break(desk, user=ana, now=later + timedelta(minutes=1))
    assert not team(desk, sam, later + timedelta(minutes=2))["ana"]["wellbeing"]["over_limit"]
    again = turns_abusive(desk, ana, at=later + timedelta(minutes=2), customer="c-after")
    assert rotation_rows(desk, again.conversation_id) == []


def test_everyone_at_the_limit_means_a_supervisor_takes_it(desk: Desk) -> None:
    ana, _ = make_user(desk.store, "ana", "agent")
    ben, _ = make_user(desk.store, "ben", "agent")
    make_user(desk.store, "sam", "supervisor")
    answered(desk, ana, 3, at=NOW, tag="a")
    answered(desk, ben, 3, at=NOW, tag="b")
    r = turns_abusive(desk, ana, at=NOW + timedelta(minutes=5))
    [d] = rotation_rows(desk, r.conversation_id)
    assert (d["action"], d["target"]) == ("escalate", "supervisor")
    assert "every other agent is at the limit too: escalated to a supervisor" in d["reason"]
    with desk.store.read() as s:
        pending = s.scalars(
            select(Escalation).where(
                Escalation.conversation_id == r.conversation_id, Escalation.state == "pending"
            )
        ).all()
    assert [e.target for e in pending if e.kind == "escalation"] == ["supervisor"]
    sam = User(id=0, name="x", role="supervisor")
    assert views.conversation_detail(desk, r.conversation_id, user=sam, now=NOW)["assignee"] is None


def test_the_policy_may_send_every_rotation_to_a_supervisor(desk: Desk) -> None:
    desk.policy = dataclasses.replace(desk.policy, wellbeing=Wellbeing(route_to="supervisor"))
    ana, _ = make_user(desk.store, "ana", "agent")
    make_user(desk.store, "ben", "agent")
    answered(desk, ana, 3, at=NOW, tag="a")
    r = turns_abusive(desk, ana, at=NOW + timedelta(minutes=5))
    [d] = rotation_rows(desk, r.conversation_id)
    assert d["target"] == "supervisor" and "the policy routes them to a supervisor" in d["reason"]


def test_exposures_outside_the_window_do_not_rotate(desk: Desk) -> None:
    ana, _ = make_user(desk.store, "ana", "agent")
    make_user(desk.store, "ben", "agent")
    answered(desk, ana, 3, at=NOW - timedelta(minutes=150), tag="a")  # window: 120 minutes
    r = turns_abusive(desk, ana, at=NOW)
    assert rotation_rows(desk, r.conversation_id) == []
    sam = User(id=0, name="x", role="supervisor")
    assert (
        views.conversation_detail(desk, r.conversation_id, user=sam, now=NOW)["assignee"] == "ana"
    )


# -- the [wellbeing] section of a policy ---------------------------------------------------------


@pytest.mark.parametrize(
    ("section", "problem"),
    [
        # an unknown key is an error naming it
        ("[wellbeing]\nexposure_limt = 3\n", "key 'wellbeing.exposure_limt': unknown key"),
        # route_to is one of two words
        ('[wellbeing]\nroute_to = "anyone"\n', "key 'wellbeing.route_to'"),
        # a limit of zero would rotate everyone always
        ("[wellbeing]\nexposure_limit = 0\n", "key 'wellbeing.exposure_limit'"),
    ],
)
def test_wellbeing_section_is_validated(tmp_path: Path, section: str, problem: str) -> None:
    root = tmp_path / "policy"
    shutil.copytree(default_dir(), root)
    main = root / "policy.toml"
    text = main.read_text(encoding="utf-8")
    main.write_text(text[: text.index("[wellbeing]")] + section, encoding="utf-8")
    with pytest.raises(PolicyInvalid) as err:
        load_policy(root)
    assert any(problem in p for p in err.value.problems), err.value.problems


def test_wellbeing_section_is_optional_with_the_documented_defaults(tmp_path: Path) -> None:
    root = tmp_path / "policy"
    shutil.copytree(default_dir(), root)
    main = root / "policy.toml"
    text = main.read_text(encoding="utf-8")
    main.write_text(text[: text.index("[wellbeing]")], encoding="utf-8")
    assert load_policy(root).wellbeing == Wellbeing(
        exposure_limit=3, window_minutes=120, route_to="least_exposed"
    )
