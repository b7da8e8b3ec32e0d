"""`gracedesk advise` end to end, as a user runs it (a real subprocess), bad lines included."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

CMD = [sys.executable, "-m", "gracedesk.cli.main", "advise"]
NOW = "2026-11-21T10:05:00Z"

AGENT = {
    "role": "agent",
    "name": "Sam",
    "authority": {"refund_limit": 100, "credit_limit": 30, "discount_pct_limit": 10},
}
SCENARIOS = [
    {  # an abusive first message: a calm boundary first
        "id": "abusive",
        "messages": [
            {"role": "customer", "text": "You useless idiots, where the hell is my order?"}
        ],
        "agent": AGENT,
    },
    {  # a serial complainer who wants a refund above the agent's limit
        "id": "serial",
        "messages": [
            {
                "role": "customer",
                "text": "My package was supposed to arrive Monday.",
                "at": "2026-11-20T09:00:00Z",
            },
            {
                "role": "agent",
                "text": "Sorry about that, let me check.",
                "at": "2026-11-20T09:05:00Z",
            },
            {
                "role": "customer",
                "text": "Still nothing. This is ridiculous, I want a refund.",
                "at": "2026-11-21T10:00:00Z",
            },
        ],
        "customer": {
            "name": "Dana",
            "tier": "gold",
            "currency": "EUR",
            "order_value": 120,
            "complaints_90d": 4,
            "contacts_30d": 2,
            "compensation": [{"kind": "credit", "amount": 20, "at": "2026-11-01"}],
        },
        "agent": AGENT,
        "commitments": [{"text": "I'll call you back by Friday", "due": "2026-11-20T17:00:00Z"}],
    },
    {  # an indecisive customer: at most two options
        "id": "indecisive",
        "messages": [
            {"role": "customer", "text": "I'd like a refund please."},
            {"role": "agent", "text": "I understand, I'm sorry the jacket didn't fit."},
            {
                "role": "customer",
                "text": "Actually, maybe an exchange instead? Not sure if that's faster.",
            },
            {"role": "agent", "text": "No problem at all."},
            {
                "role": "customer",
                "text": "Hmm, on second thought I changed my mind, refund after all. Or should I wait?",
            },
        ],
        "customer": {"order_value": 80},
        "agent": AGENT,
    },
]


def run(args: list[str], stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([*CMD, *args], input=stdin, capture_output=True, timeout=300, check=False)


def _jsonl(rows: list[object]) -> bytes:
    return b"".join((r if isinstance(r, bytes) else json.dumps(r).encode()) + b"\n" for r in rows)


def test_advise_streams_one_line_per_scenario_with_bad_lines(tmp_path: Path) -> None:
    src = tmp_path / "scenarios.jsonl"
    bad = [
        b"not json",  # malformed JSON
        b"[1, 2]",  # not an object
        b'{"id": "empty", "messages": []}',  # no messages
        b"   ",  # blank line
        json.dumps({"id": "agent-only", "messages": [{"role": "agent", "text": "hi"}]}).encode(),
        json.dumps(
            {"id": "bad-auth", "messages": [{"text": "hi"}], "agent": {"authority": {"x": 1}}}
        ).encode(),
    ]
    src.write_bytes(_jsonl([*SCENARIOS, *bad]))
    p = run([str(src), "--now", NOW])
    assert p.returncode == 0, p.stderr
    rows = [json.loads(x) for x in p.stdout.decode().splitlines()]
    assert len(rows) == len(SCENARIOS) + len(bad)
    by_id = {r["id"]: r for r in rows[: len(SCENARIOS)]}
    assert by_id["abusive"]["next_step"]["step"] == "boundary"
    assert by_id["abusive"]["next_step"]["why"]
    serial = by_id["serial"]
    assert set(serial) >= {"id", "stage", "next_step", "phrases", "solutions", "handover"}
    refund = next(s for s in serial["solutions"] if s["kind"] == "refund")
    assert refund["needs_approval"] and "refund limit" in refund["approval_reason"]
    assert serial["handover"]["promises"][0]["overdue"] is True
    assert serial["handover"]["opening_line"].startswith("Hi Dana,")
    assert len(by_id["indecisive"]["solutions"]) <= 2
    for r in rows[: len(SCENARIOS)]:
        assert all("{" not in ph["text"] for ph in r["phrases"]), r["phrases"]
    codes = [r["error"]["code"] for r in rows[len(SCENARIOS) :]]
    assert codes == ["GD102", "GD102", "GD102", "GD101", "GD502", "GD502"]
    assert "1 line" not in p.stderr.decode() and "6 line(s) with errors" in p.stderr.decode()


def test_no_usable_line_exits_1_and_bad_options_exit_2(tmp_path: Path) -> None:
    p = run(["-"], b"not json\n")
    assert p.returncode == 1 and b"no usable scenario" in p.stderr
    assert json.loads(p.stdout)["error"]["code"] == "GD102"
    p = run(["-", "--now", "yesterday"], _jsonl(SCENARIOS[:1]))
    assert p.returncode == 2 and b"--now" in p.stderr
    packs = tmp_path / "packs"
    packs.mkdir()
    (packs / "mine.toml").write_text(
        'version = "1"\npack = "p"\n[[phrase]]\nid = "x"\nstage = "offer"\ntext = "{nope}"\n'
    )
    p = run(["-", "--phrases", str(packs)], _jsonl(SCENARIOS[:1]))
    assert p.returncode == 1 and b"GD501" in p.stderr and b"phrase 'x'" in p.stderr
