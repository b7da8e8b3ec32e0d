"""Scenarios from the desk's own hardest conversations: ranked, masked, valid, playable, stable.

The store is seeded through the real desk (SQLite and PostgreSQL) with the packaged demo
conversations plus one that carries personal data, then conversations are resolved, escalated
and rated like a real week. The built files must load with the real loader, play in the
simulator, name no customer or agent, and come out byte for byte the same a second time.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from desk.conftest import NOW, make_user, post
from gracedesk.cli.main import cli
from gracedesk.demo import load_conversations
from gracedesk.service import actions
from gracedesk.service.desk import CustomerRef, Desk, Incoming
from gracedesk.service.training import desk_conversations, library
from gracedesk.store.tables import Conversation, CsatResponse
from gracedesk.training import load_scenarios, parse_scenario, replay
from gracedesk.training.from_desk import (
    DeskConversation,
    DeskTurn,
    build,
    difficulty_of,
    persona_of,
    scenario_of,
)
from gracedesk.training.scenario import packaged_dir

SECRET = "Priya Raman"
EMAIL = "priya.raman@example.org"
PHONE = "+1 415 555 0123"
ORDER = "88812345"
AGENT = "Marta"


def _seed(desk: Desk) -> dict[str, int]:
    """Ten demo conversations and one with personal data, through the real flow; resolved,
    one escalated, surveys answered 1-5. Returns the ids of the two we check by name."""
    sam = make_user(desk.store, "sam", "agent", display_name=f"{AGENT} Lopez")[0]
    lead = make_user(desk.store, "lead", "supervisor")[0]
    ids: list[int] = []
    for i, conv in enumerate(load_conversations()[:10]):
        c = conv["customer"]
        ref = CustomerRef(c["external_id"], c["name"], c["email"])
        conv_id = None
        at = NOW + timedelta(hours=i)
        for m in conv["messages"]:
            at += timedelta(minutes=m["offset_minutes"] + 1)
            if m["role"] == "customer":
                conv_id = desk.post_message(
                    Incoming(ref, m["text"], conversation_id=conv_id), actor=None, now=at
                ).conversation_id
            elif conv_id is not None:
                actions.send_reply(desk, conv_id, m["text"], user=sam, now=at)
        assert conv_id is not None
        ids.append(conv_id)
    at = NOW + timedelta(days=1)
    pii = post(
        desk,
        f"This is {SECRET}. Order {ORDER} never arrived, you useless idiots! Call me on {PHONE} "
        f"or write to {EMAIL}. I want a refund NOW or I go to the papers.",
        customer="c-pii",
        name=SECRET,
        email=EMAIL,
        at=at,
    ).conversation_id
    actions.send_reply(
        desk,
        pii,
        f"Hi Priya, I am sorry. I have issued a full refund for order {ORDER}. - {AGENT}",
        user=sam,
        now=at + timedelta(minutes=5),
    )
    later = at + timedelta(hours=1)
    post(desk, "Still nothing. I want a manager. Now.", customer="c-pii", name=SECRET, at=later)
    actions.escalate(desk, pii, user=sam, reason="customer asks for a manager", now=at)
    for conv_id in [*ids, pii]:
        actions.resolve(desk, conv_id, user=lead, resolution="Refunded and apologised.", now=at)
    with desk.store.write() as s:
        for n, r in enumerate(s.scalars(select(CsatResponse).order_by(CsatResponse.id))):
            r.score, r.responded_at = 1 + n % 5, at
    return {"pii": pii}


def test_the_hardest_conversations_become_valid_masked_playable_scenarios(
    desk: Desk, tmp_path: Path
) -> None:
    seeded = _seed(desk)
    convs = desk_conversations(desk.store, limit=5)
    assert 1 <= len(convs) <= 5
    assert seeded["pii"] in {c.id for c in convs}  # escalated, risky, rated: among the hardest
    built = build(convs, 5)
    assert [b.conversation_id for b in built] == [c.id for c in convs]
    assert [b.hardness for b in built] == sorted((b.hardness for b in built), reverse=True)

    for b in built:
        (tmp_path / f"{b.id}.toml").write_text(b.toml, encoding="utf-8")
        for leak in (SECRET, "Priya", "Raman", EMAIL, PHONE, ORDER, AGENT, "Lopez"):
            assert leak not in b.toml, (b.id, leak)
    loaded = {s.id: s for s in load_scenarios(extra_dirs=[tmp_path])}
    for b in built:
        sc = loaded[b.id]
        assert sc.id.startswith(f"desk-{b.conversation_id}-")
        sim = replay(sc, 0, ["I'm so sorry, that is our mistake. I'll sort out a refund today."])
        assert len(sim.transcript) == 3 and sim.result().score >= 0

    pii = next(b for b in built if b.conversation_id == seeded["pii"])
    sc = loaded[pii.id]
    assert sc.difficulty == "hard" and "[customer]" in sc.opening
    assert "[phone]" in sc.opening and "[email]" in sc.opening and "#10001" in sc.opening
    assert sc.facts["reference"] == "#10001"
    assert "refund" in sc.resolution and "supervisor" in sc.resolution
    assert any(line.when == "manager" for line in sc.lines)

    # the same store gives the same files
    assert [b.toml for b in build(desk_conversations(desk.store, limit=5), 5)] == [
        b.toml for b in built
    ]


def test_the_command_writes_to_the_data_directory_and_train_list_reads_it(
    desk: Desk, db_url: str, tmp_path: Path
) -> None:
    seeded = _seed(desk)
    env = {"GRACEDESK_HOME": str(tmp_path), "GRACEDESK_DATABASE_URL": db_url}
    runner = CliRunner()
    first = runner.invoke(cli, ["train", "build", "--from-desk", "--limit", "3"], env=env)
    assert first.exit_code == 0, first.output
    folder = tmp_path / "scenarios"
    files = sorted(folder.glob("desk-*.toml"))
    assert len(files) == 3
    assert any(f.stem.startswith(f"desk-{seeded['pii']}-") for f in files)  # the hardest
    texts = [f.read_text(encoding="utf-8") for f in files]
    again = runner.invoke(cli, ["train", "build", "--from-desk", "--limit", "3"], env=env)
    assert again.exit_code == 0
    assert [f.read_text(encoding="utf-8") for f in sorted(folder.glob("desk-*.toml"))] == texts
    listed = runner.invoke(cli, ["train", "list", "--scenarios", str(folder)])
    assert listed.exit_code == 0
    assert {f.stem for f in files} <= {line.split()[0] for line in listed.output.splitlines()}
    no_source = runner.invoke(cli, ["train", "build"], env=env)
    assert no_source.exit_code == 2 and "--from-desk" in no_source.output

    # erasing the customer deletes the files made from their conversations at once, and their
    # conversation is never built again
    erased = runner.invoke(
        cli, ["customers", "erase", str(_customer_of(desk, seeded["pii"])), "--yes"], env=env
    )
    assert erased.exit_code == 0, erased.output
    assert "1 practice scenario file(s) deleted" in erased.output
    assert not list(folder.glob(f"desk-{seeded['pii']}-*.toml"))
    assert seeded["pii"] not in {c.id for c in desk_conversations(desk.store, limit=50)}
    # a broken or duplicate file in the team's folder is left out, not fatal to the console
    (folder / "desk-broken.toml").write_text("id = [", encoding="utf-8")
    packaged = packaged_dir().joinpath("late-order-aggressive.toml").read_text(encoding="utf-8")
    (folder / "late-order-aggressive.toml").write_text(packaged, encoding="utf-8")
    lib = library((folder,))
    assert "desk-broken" not in lib.scenarios and len(lib.local) == 2  # the two desk files
    assert "late-order-aggressive" not in lib.local  # the packaged one stays, the copy is out
    (folder / "desk-broken.toml").unlink()
    (folder / "late-order-aggressive.toml").unlink()
    pruned = runner.invoke(
        cli, ["train", "build", "--from-desk", "--limit", "3", "--prune"], env=env
    )
    assert pruned.exit_code == 0, pruned.output
    left = {f.name for f in folder.glob("desk-*.toml")}
    assert len(left) == 3 and not any(n.startswith(f"desk-{seeded['pii']}-") for n in left)


def _customer_of(desk: Desk, conversation_id: int) -> int:
    with desk.store.read() as s:
        conv = s.get(Conversation, conversation_id)
        assert conv is not None
        return conv.customer_id


def _conv(**kw: object) -> DeskConversation:
    base: dict[str, object] = {
        "id": 7,
        "channel": "email",
        "subject": "Broken",
        "risk": 0.3,
        "escalated": False,
        "csat": None,
        "resolution": None,
        "turns": (DeskTurn("customer", "It is broken {again}."),),
    }
    return DeskConversation(**{**base, **kw})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kw", "level"),
    [
        ({"risk": 0.85}, "hard"),  # very risky
        ({"escalated": True, "csat": 2}, "hard"),  # escalated and the customer unhappy after
        ({"escalated": True}, "medium"),  # escalated only
        ({"csat": 1}, "medium"),  # unhappy only
        ({"risk": 0.55}, "medium"),  # risky
        ({"csat": 4}, "easy"),  # calm and satisfied
    ],
)
def test_difficulty_follows_risk_escalation_and_csat(kw: dict[str, object], level: str) -> None:
    assert difficulty_of(_conv(**kw)) == level


@pytest.mark.parametrize(
    ("signals", "persona"),
    [
        ({"context": {"archetype": "demanding"}}, "demanding"),  # the analysis named it
        ({"context": {"archetype": "none", "archetype_scores": {"vague": 0.3}}}, "vague"),
        ({"emotions": {"anger": 0.9}}, "aggressive"),  # no archetype: anger decides
        ({"requests": {"refund": 0.8}}, "demanding"),  # no archetype, no anger: a request
        ({}, "vague"),  # nothing known
    ],
)
def test_persona_comes_from_the_stored_archetype(signals: dict[str, object], persona: str) -> None:
    conv = _conv(turns=(DeskTurn("customer", "Hello?", signals),))
    assert persona_of(conv) == persona


def test_braces_in_a_customers_text_never_read_as_facts() -> None:
    data = scenario_of(_conv())
    assert data["opening"] == "It is broken (again)."
    built = build([_conv()], 1)
    assert parse_scenario(built[0].toml, "test", stem=built[0].id).opening == data["opening"]
