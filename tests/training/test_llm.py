"""The optional LLM back-end against a real local OpenAI-compatible server (tests/training/
fake_llm.py): it writes the customer's words, the states stay ours, failures fall back."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from gracedesk.cli.main import cli
from gracedesk.training import replay
from gracedesk.training.llm import ChatBackend, LLMConfig

from .conftest import DATA, DISMISSIVE, EMPATHETIC
from .fake_llm import completion, fake_llm


def test_config_from_env_is_off_by_default() -> None:
    assert LLMConfig.from_env({}) is None
    c = LLMConfig.from_env(
        {
            "GRACEDESK_TRAINING_LLM_URL": "http://127.0.0.1:11434/",
            "GRACEDESK_TRAINING_LLM_MODEL": "llama3.2",
            "GRACEDESK_TRAINING_LLM_KEY": "sk-test",
        }
    )
    assert c is not None and c.model == "llama3.2" and c.key == "sk-test"
    assert c.endpoint == "http://127.0.0.1:11434/v1/chat/completions"
    assert LLMConfig("http://h:1/v1").endpoint == "http://h:1/v1/chat/completions"


def test_llm_writes_the_lines_and_the_states_stay_ours(parcel) -> None:
    with fake_llm() as server:
        server.replies = [(200, completion(f'"LLM line {i}"')) for i in range(1, 5)]
        backend = ChatBackend(LLMConfig(server.url, model="tiny", key="sk-test"))
        sim = replay(parcel, 0, EMPATHETIC, backend=backend)
        path, headers, body = server.requests[0]
    customer = [m["text"] for m in sim.transcript if m["role"] == "customer"]
    assert customer[1:] == [f"LLM line {i}" for i in range(1, len(customer))]
    assert customer[0] == sim.opening  # the opening is the scenario's
    assert path == "/v1/chat/completions"
    assert headers["Authorization"] == "Bearer sk-test"
    assert body["model"] == "tiny" and body["messages"][0]["role"] == "system"
    system = body["messages"][0]["content"]
    assert parcel.wants in system and "aggressive" in system and "P-7731" in system
    assert body["messages"][1] == {"role": "assistant", "content": sim.opening}
    assert body["messages"][2] == {"role": "user", "content": EMPATHETIC[0]}
    plain = replay(parcel, 0, EMPATHETIC)
    assert sim.states == plain.states
    assert sim.result().score == plain.result().score
    assert not sim.notes


def test_errors_fall_back_to_the_line_bank_and_are_noted(parcel) -> None:
    plain = replay(parcel, 0, DISMISSIVE)
    with fake_llm() as server:
        server.replies = [(500, {"error": "boom"}), (200, {"choices": []})]
        sim = replay(parcel, 0, DISMISSIVE, backend=ChatBackend(LLMConfig(server.url)))
    assert sim.transcript == plain.transcript  # the bank's lines, same seed
    assert sim.notes[0] == "turn 1: llm: HTTP 500; used the line bank"
    assert "unusable answer" in sim.notes[1]
    assert sim.result().to_dict()["notes"] == sim.notes


def test_timeout_and_unreachable_fall_back(parcel) -> None:
    with fake_llm() as server:
        server.delay = 1.0
        sim = replay(
            parcel, 0, DISMISSIVE[:1], backend=ChatBackend(LLMConfig(server.url, timeout=0.2))
        )
    assert "timed out" in sim.notes[0]
    gone = ChatBackend(LLMConfig(server.url, timeout=0.5))  # the server is closed now
    sim = replay(parcel, 0, DISMISSIVE[:1], backend=gone)
    assert "unreachable" in sim.notes[0]
    assert sim.transcript == replay(parcel, 0, DISMISSIVE[:1]).transcript


def test_cli_uses_the_llm_when_configured(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    path.write_text(json.dumps({"text": EMPATHETIC[0]}) + "\n", encoding="utf-8")
    with fake_llm() as server:
        server.default = (200, completion("Fine, go on."))
        r = CliRunner(env={"GRACEDESK_TRAINING_LLM_URL": server.url}).invoke(
            cli,
            [
                "train",
                "play",
                "test-parcel-aggressive",
                "--scenarios",
                str(DATA),
                "--script",
                str(path),
            ],
        )
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["transcript"][-1] == {"role": "customer", "text": "Fine, go on."}
