"""The example files in examples/ work with every command, as the README shows them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOW = "2026-11-23T09:00:00+00:00"


def run(*args: str) -> list[dict]:
    p = subprocess.run(
        [sys.executable, "-m", "gracedesk.cli.main", *args],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    rows = [json.loads(line) for line in p.stdout.splitlines()]
    assert all("error" not in r for r in rows), rows
    return rows


def test_decide_examples() -> None:
    rows = {r["id"]: r for r in run("decide", str(ROOT / "examples/scenarios.jsonl"), "--now", NOW)}
    violent = {(d["action"], d["target"]) for d in rows["s2"]["decisions"]}
    assert ("escalate", "security") in violent
    assert rows["s2"]["sla"]["priority"] == "urgent"
    assert "public_threat" in rows["s1"]["signals"]["labels"]
    assert all(d["rule_id"] and d["reason"] for r in rows.values() for d in r["decisions"])


def test_coach_examples() -> None:
    rows = {r["id"]: r for r in run("coach", str(ROOT / "examples/drafts.jsonl"), "--now", NOW)}
    assert {"excuse", "dismissive"} <= {f["kind"] for f in rows["d1"]["findings"]}
    assert rows["d2"]["findings"] == [] and rows["d2"]["commitments"]
    assert rows["d2"]["score"] > rows["d1"]["score"]


def test_advise_examples() -> None:
    rows = {r["id"]: r for r in run("advise", str(ROOT / "examples/scenarios.jsonl"), "--now", NOW)}
    assert rows["s2"]["next_step"]["step"] == "boundary"
    assert all(r["next_step"]["why"] for r in rows.values())
    # s1 asks for a refund of 120 from an agent with a refund limit of 50 (the policy says
    # require_approval): guidance must not show it as within authority
    refund = next(s for s in rows["s1"]["solutions"] if s["kind"] == "refund")
    assert refund["amount"] == 120 and refund["needs_approval"], refund
    assert any(
        w.startswith("needs approval: a refund of 120") for w in rows["s1"]["handover"]["why"]
    )
    # s2 threatens violence: no goodwill, and the threat comes first in the hand-over
    assert not any(s["kind"] == "goodwill_credit" for s in rows["s2"]["solutions"])
    assert rows["s2"]["handover"]["why"][0].startswith("threat of violence")
