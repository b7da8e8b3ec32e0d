"""`gracedesk coach` end to end, as a user runs it (a real subprocess), bad lines included."""

from __future__ import annotations

import json
import subprocess
import sys

CMD = [sys.executable, "-m", "gracedesk.cli.main", "coach"]


def run(args: list[str], stdin: bytes) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([*CMD, *args], input=stdin, capture_output=True, timeout=120, check=False)


def rows(p: subprocess.CompletedProcess[bytes]) -> list[dict]:
    return [json.loads(line) for line in p.stdout.decode().splitlines()]


LINES = [
    # (input line, expected error code or None when it must be coached)
    (
        b'{"id": "a", "draft": "Calm down. We will refund you.", "customer_message": "Ridiculous!!"}',
        None,
    ),
    (
        b'{"id": "b", "draft": "I will call you back tomorrow by noon.", "tz": "America/New_York"}',
        None,
    ),
    (b'{"id": "c", "draft": ""}', "GD101"),  # empty draft
    (b'{"id": "d"}', "GD102"),  # no draft field
    (b'{"id": "e", "draft": 7}', "GD102"),  # draft not a string
    (b"{broken", "GD102"),  # malformed JSON
    (b'{"id": "f", "draft": "Hi", "tz": "Nowhere/Land"}', "GD402"),  # unknown zone
    (b"a plain text draft, we'll fix it soon", None),  # plain text line
    (b'{"id": "g", "draft": "bad bytes \xff here, sorry! here is the fix: [link]"}', None),
]


def test_stream_with_bad_lines() -> None:
    stdin = b"\n".join(line for line, _ in LINES) + b"\n"
    p = run(["-", "--now", "2026-11-20T16:30:00+00:00", "--tz", "Europe/London"], stdin)
    assert p.returncode == 0, p.stderr
    out = rows(p)
    assert len(out) == len(LINES)
    for (line, code), row in zip(LINES, out, strict=True):
        if code is None:
            assert "error" not in row, (line, row)
            assert set(row) == {
                    "id", "score", "politeness", "has", "findings", "commitments", "rewrite"
                }  # fmt: skip
        else:
            assert row["error"]["code"] == code, (line, row)
    a, b = out[0], out[1]
    assert {f["kind"] for f in a["findings"]} == {"dismissive", "no_empathy", "no_timeline"}
    assert b["commitments"] == [
        {
            "text": "I will call you back tomorrow by noon.",
            "start": 0,
            "end": 38,
            "when": "tomorrow by noon",
            "due": "2026-11-21T12:00:00-05:00",
        }
    ]
    assert {f["kind"] for f in out[7]["findings"]} == {"vague_promise"}
    assert b"with errors" in p.stderr


def test_nothing_usable_exits_1() -> None:
    p = run(["-"], b'{"draft": ""}\n{nope\n')
    assert p.returncode == 1
    assert len(rows(p)) == 2
    assert b"no usable draft" in p.stderr


def test_bad_now_is_a_usage_error() -> None:
    p = run(["-", "--now", "yesterday"], b'{"draft": "hi"}\n')
    assert p.returncode == 2
    assert b"--now" in p.stderr
