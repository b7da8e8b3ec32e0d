"""`gracedesk analyze` end to end, as a user runs it (a real subprocess), bad input included."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CMD = [sys.executable, "-m", "gracedesk.cli.main"]


def run(args: list[str], stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([*CMD, *args], input=stdin, capture_output=True, timeout=300, check=False)


def out_lines(p: subprocess.CompletedProcess[bytes]) -> list[dict]:
    return [json.loads(line) for line in p.stdout.decode().splitlines()]


def test_examples_file() -> None:
    p = run(["analyze", str(ROOT / "examples/messages.jsonl")])
    assert p.returncode == 0, p.stderr
    rows = out_lines(p)
    src = [json.loads(x) for x in (ROOT / "examples/messages.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == [s["id"] for s in src]


BAD = [
    # (input line, expected error code or None when it must be analysed)
    (b'{"id": "e1", "text": ""}', "GD101"),  # empty text
    (b'{"id": "e2", "text": "   \\t  "}', "GD101"),  # whitespace only
    (b"   ", "GD101"),  # blank plain line
    (b'{"id": "e3", "text": "unterminated', "GD102"),  # malformed JSON
    (b'{"id": "e4"}', "GD102"),  # no text field
    (b'{"id": "e5", "text": 42}', "GD102"),  # text not a string
    (b"[1, 2]", None),  # not an object and not starting with { -> plain text
    (b'{"id": "ok1", "text": "<p>Your <b>service</b> is <i>awful</i></p>"}', None),  # HTML
    (b'{"id": "ok2", "text": "\\ud83d\\ude21\\ud83d\\ude21\\ud83d\\ude21"}', None),  # emoji only
    (b'{"id": "ok3", "text": "Je veux un remboursement imm\\u00e9diatement"}', None),  # French
    ('{"id": "ok4", "text": "\u8fd9\u662f\u4ec0\u4e48\u670d\u52a1"}'.encode(), None),  # Chinese
    (b'{"id": "ok5", "text": "bad bytes \xff\xfe here, refund please"}', None),  # invalid UTF-8
    (b"plain text line: where is my parcel?", None),  # plain text
]


def test_bad_lines_never_stop_the_stream() -> None:
    stdin = b"\n".join(line for line, _ in BAD) + b"\n"
    p = run(["analyze", "-"], stdin)
    assert p.returncode == 0, p.stderr
    rows = out_lines(p)
    assert len(rows) == len(BAD)
    for (line, code), row in zip(BAD, rows, strict=True):
        if code is None:
            assert "error" not in row, (line, row)
            assert "sentiment" in row
        else:
            assert row["error"]["code"] == code, (line, row)
            assert row["error"]["message"]
    assert b"with errors" in p.stderr


def test_one_megabyte_text() -> None:
    text = ("My order is late and nobody answers my emails. " * 22000)[:1_000_000]
    p = run(["analyze", "-"], json.dumps({"id": "big", "text": text}).encode() + b"\n")
    assert p.returncode == 0, p.stderr
    (row,) = out_lines(p)
    assert row["id"] == "big" and "complaint" in row


def test_whole_input_unusable_exits_non_zero() -> None:
    p = run(["analyze", "-"], b'{"text": ""}\n{broken\n')
    assert p.returncode == 1
    assert len(out_lines(p)) == 2
    assert b"no usable message" in p.stderr


def test_missing_file_is_a_usage_error() -> None:
    p = run(["analyze", "/nonexistent/file.jsonl"])
    assert p.returncode == 2
    assert b"does not exist" in p.stderr


def test_streams_before_input_ends() -> None:
    """Output for a line comes out while later input has not been written yet (streaming)."""
    proc = subprocess.Popen(
        [*CMD, "analyze", "-", "--batch-size", "1"], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        proc.stdin.write(b'{"id": "a", "text": "hello, where is my refund?"}\n')
        proc.stdin.flush()
        first = json.loads(proc.stdout.readline())
        assert first["id"] == "a"
        proc.stdin.write(b'{"id": "b", "text": "thanks!"}\n')
        proc.stdin.close()
        second = json.loads(proc.stdout.readline())
        assert second["id"] == "b"
    finally:
        proc.wait(timeout=60)
        proc.stdout.close()
    assert proc.returncode == 0


def test_context_file(tmp_path: Path) -> None:
    p = run(
        [
            "analyze",
            str(ROOT / "examples/messages.jsonl"),
            "--context",
            str(ROOT / "examples/context.json"),
        ]
    )
    assert p.returncode == 0, p.stderr
    rows = out_lines(p)
    assert all("context" in r for r in rows)
    assert all(r["context"]["repeat_contacts"] == 4 for r in rows)  # 2 earlier + contacts_30d 2


def test_bad_context_file(tmp_path: Path) -> None:
    bad = tmp_path / "ctx.json"
    bad.write_text("[1, 2")
    p = run(["analyze", str(ROOT / "examples/messages.jsonl"), "--context", str(bad)])
    assert p.returncode == 2
    assert b"not valid JSON" in p.stderr


@pytest.mark.parametrize(
    "cmd", [["--help"], ["analyze", "--help"], ["eval", "--help"], ["bench", "--help"]]
)
def test_help(cmd: list[str]) -> None:
    p = run(cmd)
    assert p.returncode == 0
    assert b"Usage:" in p.stdout
