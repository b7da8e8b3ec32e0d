"""`gracedesk decide` and `gracedesk policy check|explain` as a user runs them (subprocess)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from gracedesk.policy.loader import default_dir

CMD = [sys.executable, "-m", "gracedesk.cli.main"]
NOW = "2025-03-03T10:05:00Z"
T0 = "2025-03-03T09:00:00Z"


def run(args: list[str], stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([*CMD, *args], input=stdin, capture_output=True, timeout=120, check=False)


def lines(p: subprocess.CompletedProcess[bytes]) -> list[dict]:
    return [json.loads(x) for x in p.stdout.decode().splitlines()]


THREAT = {
    "id": "t1",
    "messages": [
        {"role": "customer", "text": "My parcel is late", "at": T0},
        {"role": "agent", "text": "Sorry, let me check", "at": "2025-03-03T09:30:00Z"},
        {
            "role": "customer",
            "text": "I am going to come down there and smash your face in",
            "at": "2025-03-03T10:00:00Z",
        },
    ],
    "customer": {"tier": "gold", "complaints_90d": 1, "sanctions": ["warn"], "lifetime_value": 900},
    "agent": {"role": "agent"},
    "request": {"kind": "refund", "amount": 120},
}

SCENARIOS = [
    # (input line, expected: first decision's rule id, or an error code)
    (json.dumps(THREAT), "violence-threat"),  # analysed in context: security, urgent
    (
        json.dumps({"id": "m1", "messages": [{"role": "customer", "text": "Thanks, all good"}]}),
        "default",
    ),
    ('{"id": "bad-json", ', "GD102"),  # malformed JSON
    ("[1, 2]", "GD102"),  # not an object
    ("", "GD102"),  # empty line
    (json.dumps({"id": "e1", "messages": []}), "GD310"),  # no messages
    (
        json.dumps({"id": "e2", "messages": [{"role": "agent", "text": "hi"}]}),
        "GD310",
    ),  # no customer
    (json.dumps({"id": "e3", "messages": [{"text": "x"}], "agent": {"role": "intern"}}), "GD310"),
    (json.dumps({"id": "e4", "messages": [{"text": "x", "at": "yesterday"}]}), "GD310"),  # bad time
    (json.dumps({"id": "e5", "messages": [{"text": "x"}], "colour": 1}), "GD310"),  # unknown key
]


def test_decide_stream_with_bad_lines() -> None:
    stdin = "\n".join(line for line, _ in SCENARIOS).encode() + b"\n"
    p = run(["decide", "-", "--now", NOW], stdin)
    assert p.returncode == 0, p.stderr
    rows = lines(p)
    assert len(rows) == len(SCENARIOS)
    for (_, expected), row in zip(SCENARIOS, rows, strict=True):
        if expected.startswith("GD"):
            assert row["error"]["code"] == expected, row
        else:
            assert row["decisions"][0]["rule_id"] == expected, row
            assert set(row) == {"id", "signals", "decisions", "sla"}
    threat = rows[0]
    assert threat["signals"]["context"]["repeat_contacts"] >= 1  # analysed with context
    assert threat["sla"] == {
        "priority": "urgent",
        "first_response_due": "2025-03-03T10:20:00+00:00",
        "resolution_due": "2025-03-03T13:30:00+00:00",  # 4 h round the clock, 30 min paused
    }
    assert b"with errors" in p.stderr


def test_decide_exits_1_when_nothing_is_usable(tmp_path: Path) -> None:
    f = tmp_path / "in.jsonl"
    f.write_text('{"messages": []}\nnope\n')
    p = run(["decide", str(f), "--now", NOW])
    assert p.returncode == 1
    assert len(lines(p)) == 2 and b"no usable scenario" in p.stderr


def test_decide_rejects_bad_now() -> None:
    p = run(["decide", "-", "--now", "tomorrow"], b"")
    assert p.returncode == 2 and b"--now" in p.stderr


def test_policy_check(tmp_path: Path) -> None:
    assert run(["policy", "check", str(default_dir())]).returncode == 0
    bad = tmp_path / "p"
    shutil.copytree(default_dir(), bad)
    (bad / "rules/x.toml").write_text(
        '[[rule]]\nid = "x"\nprecedence = 1\ndescription = "d"\nwhen = { field = "nope", op = "==", value = 1 }\n'
        '[[rule.action]]\ntype = "route"\ntarget = "t"\n'
    )
    p = run(["policy", "check", str(bad)])
    assert p.returncode == 1
    assert b"rules/x.toml: rule 'x': key 'when.field': unknown field 'nope'" in p.stderr


def test_policy_explain(tmp_path: Path) -> None:
    f = tmp_path / "s.json"
    f.write_text(json.dumps(THREAT))
    p = run(["policy", "explain", str(f), "--now", NOW])
    assert p.returncode == 0, p.stderr
    out = p.stdout.decode()
    assert "[MATCH] violence-threat" in out
    assert "[  -  ] legal-threat" in out and "not met: signals.legal_threat" in out
    assert "decisions:" in out and "sla: priority urgent" in out
    p = run(["policy", "explain", str(f), "--now", NOW, "--json"])
    rec = json.loads(p.stdout)
    assert {r["rule_id"] for r in rec["rules"]} >= {"violence-threat", "manager-request"}
