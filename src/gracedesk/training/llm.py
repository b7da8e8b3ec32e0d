"""An optional LLM back-end that writes the customer's lines (any OpenAI-compatible server).

Off by default. Configured at the entry points from ``GRACEDESK_TRAINING_LLM_URL`` (the
server's base URL, e.g. ``http://127.0.0.1:8080`` for llama.cpp or ``http://127.0.0.1:11434``
for Ollama; ``/v1/chat/completions`` is added unless the URL already ends with it),
``GRACEDESK_TRAINING_LLM_MODEL`` and ``GRACEDESK_TRAINING_LLM_KEY``. It only writes words:
the state, the outcome and the score stay the simulator's. Any failure (unreachable, timeout,
an error status, an empty or unusable answer) raises :class:`BackendError`, and the session
uses the line bank's line instead and notes why.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from gracedesk.training.backend import BackendError, LineRequest

PATH = "/v1/chat/completions"
MAX_LINE_CHARS = 600
PERSONA_STYLE = {
    "aggressive": "You are aggressive: short, hot sentences; you insult when very angry.",
    "demanding": "You are demanding: you want a concrete fix now and will ask for a manager.",
    "indecisive": "You are indecisive: you hesitate, weigh options and change your mind once.",
    "serial_complainer": "You have complained many times before and you remind them of it.",
    "vague": "You are vague: you describe the problem loosely until asked precise questions.",
}
BUCKET_GOAL = {
    "opening": "Open the conversation.",
    "escalating": "You are getting more upset with the agent's reply.",
    "calming": "You are calming down a little because of the agent's reply.",
    "accepting": "You accept the agent's solution and thank them.",
    "leaving": "You give up and end the conversation.",
    "public_threat": "You threaten to post about this publicly (reviews, social media).",
    "manager": "You demand to speak to a manager.",
    "abusive": "You insult the agent (no slurs, no threats of violence).",
    "clarifying": "You are confused and ask what the agent means.",
}
EVENT_GOAL = {
    "change_mind": "You change your mind about the solution and ask about the options again.",
    "details": "You finally give the concrete details the agent asked for.",
    "reminder": "You remind them of your earlier complaints.",
}


@dataclass(frozen=True, slots=True)
class LLMConfig:
    url: str
    model: str = "default"
    key: str | None = None
    timeout: float = 20.0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> LLMConfig | None:
        """The configuration in ``env`` (``os.environ`` at an entry point); None when unset."""
        url = (env.get("GRACEDESK_TRAINING_LLM_URL") or "").strip()
        if not url:
            return None
        timeout = env.get("GRACEDESK_TRAINING_LLM_TIMEOUT")
        return cls(
            url=url,
            model=(env.get("GRACEDESK_TRAINING_LLM_MODEL") or "default").strip(),
            key=(env.get("GRACEDESK_TRAINING_LLM_KEY") or None),
            timeout=float(timeout) if timeout else 20.0,
        )

    @property
    def endpoint(self) -> str:
        base = self.url.rstrip("/")
        if base.endswith(PATH):
            return base
        return base.removesuffix("/v1") + PATH


def messages(request: LineRequest) -> list[dict[str, str]]:
    """The chat messages sent to the model: who the customer is and what kind of line is
    wanted (system), then the conversation with roles swapped (the model is the customer)."""
    s, st = request.scenario, request.state
    facts = "; ".join(f"{k}: {v}" for k, v in s.facts.items()) or "none"
    goal = EVENT_GOAL.get(request.event) or BUCKET_GOAL.get(request.bucket, "")
    system = (
        "You play a customer writing to a support agent, for agent training. "
        f"Situation: {s.title}. What you want: {s.wants}. Facts: {facts}. "
        f"{PERSONA_STYLE.get(s.persona, '')} "
        f"Your mood now (0-1): anger {st.anger:.2f}, trust {st.trust:.2f}, "
        f"patience {st.patience:.2f}; problem solved {st.solved:.2f}. "
        f"Your next message: {goal} "
        f'A line that would fit: "{request.bank_line}". '
        "Write only the customer's next message, one to three sentences, no quotes, no labels."
    )
    out = [{"role": "system", "content": system}]
    for m in request.transcript:
        role = "assistant" if m["role"] == "customer" else "user"
        out.append({"role": role, "content": str(m["text"])})
    return out


def _clean(text: str) -> str:
    line = " ".join(text.strip().split())
    for prefix in ("Customer:", "customer:", "CUSTOMER:"):
        line = line.removeprefix(prefix).strip()
    if len(line) >= 2 and line[0] == line[-1] and line[0] in "\"'":
        line = line[1:-1].strip()
    return line[:MAX_LINE_CHARS]


class ChatBackend:
    """Writes lines with an OpenAI-compatible ``/v1/chat/completions`` endpoint."""

    name = "llm"

    def __init__(self, config: LLMConfig, *, client: httpx.Client | None = None) -> None:
        self.config = config
        self._client = client

    def write(self, request: LineRequest) -> str:
        body: dict[str, Any] = {
            "model": self.config.model,
            "messages": messages(request),
            "temperature": 0.7,
            "max_tokens": 120,
            "stream": False,
        }
        headers = {"Content-Type": "application/json"}
        if self.config.key:
            headers["Authorization"] = f"Bearer {self.config.key}"
        try:
            if self._client is not None:
                resp = self._client.post(self.config.endpoint, json=body, headers=headers)
            else:
                with httpx.Client(timeout=self.config.timeout) as client:
                    resp = client.post(self.config.endpoint, json=body, headers=headers)
        except httpx.TimeoutException as exc:
            raise BackendError(f"timed out after {self.config.timeout:g}s") from exc
        except httpx.HTTPError as exc:
            raise BackendError(f"unreachable ({type(exc).__name__})") from exc
        if resp.status_code != 200:
            raise BackendError(f"HTTP {resp.status_code}")
        try:
            doc = resp.json()
            content = doc["choices"][0]["message"]["content"]
        except (json.JSONDecodeError, KeyError, IndexError, TypeError) as exc:
            raise BackendError("unusable answer (no choices[0].message.content)") from exc
        if not isinstance(content, str) or not _clean(content):
            raise BackendError("empty answer")
        return _clean(content)
