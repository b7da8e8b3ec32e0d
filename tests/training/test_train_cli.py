"""``gracedesk train list`` and ``train play`` (interactive and scripted), and their errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from gracedesk.cli.main import cli

from .conftest import DATA, DISMISSIVE, EMPATHETIC


def run(*args: str, input: str | None = None):
    return CliRunner().invoke(cli, ["train", *args], input=input)


def script(tmp_path: Path, texts: list[str]) -> str:
    path = tmp_path / "script.jsonl"
    path.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts), encoding="utf-8")
    return str(path)


def test_list_text_one_line_per_scenario_id_first() -> None:
    r = run("list", "--scenarios", str(DATA))
    assert r.exit_code == 0
    lines = r.output.strip().splitlines()
    ids = [ln.split()[0] for ln in lines]
    assert "test-parcel-aggressive" in ids and len(lines) >= 22
    assert ids == sorted(ids)


def test_list_json_objects() -> None:
    r = run("list", "--format", "json")
    assert r.exit_code == 0
    items = json.loads(r.output)
    assert len(items) >= 20
    assert {"id", "persona", "difficulty", "cause", "title"} <= set(items[0])


def test_play_script_writes_one_json_document(tmp_path: Path) -> None:
    r = run(
        "play",
        "test-parcel-aggressive",
        "--scenarios",
        str(DATA),
        "--seed",
        "4",
        "--script",
        script(tmp_path, EMPATHETIC),
    )
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["passed"] is True and doc["score"] >= 85 and doc["outcome"] == "accepted"
    assert len(doc["states"]) == sum(m["role"] == "trainee" for m in doc["transcript"])
    assert {c["criterion"] for c in doc["rubric"]} >= {"empathy", "outcome"}
    assert doc["unplayed"] == len(EMPATHETIC) - len(doc["states"])
    again = run(
        "play",
        "test-parcel-aggressive",
        "--scenarios",
        str(DATA),
        "--seed",
        "4",
        "--script",
        script(tmp_path, EMPATHETIC),
    )
    assert json.loads(again.output) == doc


def test_play_script_pass_mark(tmp_path: Path) -> None:
    path = script(tmp_path, DISMISSIVE)
    args = ["play", "test-parcel-aggressive", "--scenarios", str(DATA), "--script", path]
    doc = json.loads(run(*args).output)
    assert doc["passed"] is False
    low = json.loads(run(*args, "--pass-mark", "10").output)
    assert low["passed"] is True and low["pass_mark"] == 10


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (['{"txt": "hi"}'], 'line 1: expected an object with a "text" string'),  # wrong key
        (['{"text": "hi"}', "{broken"], "line 2: invalid JSON"),  # not JSON
        (['{"text": "   "}'], "line 1: the text is empty"),  # blank reply
        ([""], "no replies in the script"),  # nothing to play
    ],
)
def test_bad_script_is_a_clear_error(tmp_path: Path, lines: list[str], message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    r = run("play", "test-router-vague", "--scenarios", str(DATA), "--script", str(path))
    assert r.exit_code == 2
    assert message in r.output


def test_unknown_scenario_and_bad_folder_exit_2(tmp_path: Path) -> None:
    r = run("play", "no-such-scenario")
    assert r.exit_code == 2 and "no scenario 'no-such-scenario'" in r.output
    bad = tmp_path / "broken.toml"
    bad.write_text('id = "broken"\n', encoding="utf-8")
    r = run("list", "--scenarios", str(tmp_path))
    assert r.exit_code == 2 and "broken.toml" in r.output
    r = run("play", "test-router-vague", "--scenarios", str(DATA), "--script", "/no/file")
    assert r.exit_code == 2 and "cannot be read" in r.output


def test_interactive_session_until_quit() -> None:
    r = run(
        "play",
        "test-parcel-aggressive",
        "--scenarios",
        str(DATA),
        input=f"{EMPATHETIC[0]}\n/quit\n",
    )
    assert r.exit_code == 0, r.output
    assert "Customer:" in r.output and "P-7731" in r.output
    assert "anger" in r.output and "Score:" in r.output
    assert r.output.count("Customer:") == 2


def test_interactive_session_to_the_end() -> None:
    r = run(
        "play",
        "test-parcel-aggressive",
        "--scenarios",
        str(DATA),
        input="".join(t + "\n" for t in DISMISSIVE),
    )
    assert r.exit_code == 0, r.output
    assert "Outcome: public" in r.output or "Outcome: manager" in r.output
    assert "not passed" in r.output and "try:" in r.output
