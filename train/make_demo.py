"""Build the seed conversations for ``gracedesk serve --demo`` from real public tweets.

    python train/make_demo.py [--data ../shared/data] [--out src/gracedesk/demo/conversations.jsonl]

Reads ``ibm_twitter_customer_care/dev.json`` (IBM's Twitter customer-care conversations,
Apache-2.0) under the data folder: ``--data``, else ``$GRACEDESK_DATA_DIR``, else
``../shared/data`` next to the repository. Deterministic: no randomness, fixed tie-breaks, so a
rerun reproduces the packaged file byte for byte. See docs/demo.md.

Selection (on the customer's messages as written, scored by ``gracedesk.analyze``; a
conversation's risk is its customers' highest):

- eligible: a customer opens it and is the only non-agent speaker (threads of replies to a
  brand's own broadcast are left out), first message not seen before;
- at most ``MAX_TURNS`` turns are kept and trailing agent turns dropped, so every conversation
  ends with the customer waiting for an answer;
- difficult: every multi-turn conversation with risk >= ``MULTI_MIN_RISK``, highest first, then
  the riskiest single-message ones, up to ``N_DIFFICULT``;
- calm: the ``N_CALM`` multi-turn conversations of lowest risk (below ``CALM_MAX_RISK``, no
  customer message read as negative).
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import gracedesk  # noqa: E402
from gracedesk.demo.mask import (  # noqa: E402
    Masker,
    NumberMasker,
    company_of,
    greeted_names,
    signoff_of,
)

DATASET = Path("ibm_twitter_customer_care") / "dev.json"
DEFAULT_OUT = ROOT / "src" / "gracedesk" / "demo" / "conversations.jsonl"

N_DIFFICULT = 30
N_CALM = 5
MAX_TURNS = 6
MULTI_MIN_RISK = 0.40
CALM_MAX_RISK = 0.30
SUBJECT_CHARS = 60

FAKE_NAMES = (
    "Dana Reyes", "Marcus Holt", "Priya Nair", "Tom Becker", "Aisha Khan", "Leo Novak",
    "Grace Okafor", "Sam Whitfield", "Elena Petrova", "Jonas Berg", "Maya Lindqvist",
    "Omar Haddad", "Chloe Martin", "Ravi Patel", "Hannah Moss", "Diego Alvarez",
    "Fiona Walsh", "Kenji Sato", "Lucy Fairbanks", "Noah Fischer", "Zoe Carter",
    "Ivan Morozov", "Amara Osei", "Ben Larkin", "Sofia Rossi", "Ethan Brooks",
    "Nadia Rahman", "Felix Wagner", "Isla Grant", "Mateo Silva", "Ruth Abernathy",
    "Yusuf Demir", "Clara Jensen", "Victor Lang", "Mei Chen", "Oscar Dunn",
    "Lena Vogel", "Kofi Mensah", "Ada Quinn", "Paul Renner",
)  # fmt: skip
TIERS = ("standard", "silver", "standard", "gold", "standard", "silver")


def data_root(explicit: str | None) -> Path:
    """``--data``, else ``$GRACEDESK_DATA_DIR``, else ``../shared/data`` next to the repository."""
    cands = [explicit] if explicit else [os.environ.get("GRACEDESK_DATA_DIR"), None]
    for cand in cands:
        root = Path(cand) if cand else ROOT.parent / "shared" / "data"
        if (root / DATASET).is_file():
            return root
    where = explicit or os.environ.get("GRACEDESK_DATA_DIR") or "../shared/data"
    raise SystemExit(
        f"{DATASET} not found under {where}: pass --data DIR or set GRACEDESK_DATA_DIR"
    )


def _when(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def turns_of(conv: dict[str, Any]) -> list[dict[str, str]] | None:
    """Kept turns as {role, handle, datetime, text}; None when the conversation is not eligible."""
    raw = conv["dialogContent"]
    if not raw or "client" not in raw[0] or any(not ({"client", "agent"} & t.keys()) for t in raw):
        return None
    turns = [
        {
            "role": "customer" if "client" in t else "agent",
            "handle": t.get("client") or t["agent"],
            "datetime": t["datetime"],
            "text": html.unescape(t["message"]),
        }
        for t in raw[:MAX_TURNS]
    ]
    if len({t["handle"] for t in turns if t["role"] == "customer"}) != 1:
        return None
    while turns[-1]["role"] == "agent":
        turns.pop()
    return turns


def score(turns: list[dict[str, str]]) -> tuple[float, bool]:
    """(highest customer risk, whether any customer message reads negative)."""
    signals = [gracedesk.analyze(t["text"]) for t in turns if t["role"] == "customer"]
    risk = round(max(s.risk for s in signals), 3)
    return risk, any(s.sentiment_label == "negative" for s in signals)


def select(convs: list[dict[str, Any]]) -> list[tuple[dict[str, Any], list[dict[str, str]]]]:
    seen: set[str] = set()
    scored: list[tuple[float, bool, str, dict[str, Any], list[dict[str, str]]]] = []
    for conv in convs:
        turns = turns_of(conv)
        if turns is None or turns[0]["text"].strip() in seen:
            continue
        seen.add(turns[0]["text"].strip())
        risk, negative = score(turns)
        scored.append((risk, negative, conv["dialogHeader"]["sessionID"], conv, turns))
    riskiest = sorted(scored, key=lambda s: (-s[0], s[2]))
    multi = [s for s in riskiest if len(s[4]) > 1 and s[0] >= MULTI_MIN_RISK]
    single = [s for s in riskiest if len(s[4]) == 1]
    difficult = (multi + single)[:N_DIFFICULT]
    calm = sorted(
        (s for s in scored if len(s[4]) > 1 and s[0] < CALM_MAX_RISK and not s[1]),
        key=lambda s: (s[0], s[2]),
    )[:N_CALM]
    chosen = difficult + calm
    chosen.sort(key=lambda s: (s[4][0]["datetime"], s[2]))
    return [(s[3], s[4]) for s in chosen]


def subject_of(text: str) -> str:
    """The opening of the first message: its first sentence when that is long enough to say
    something, else its first ``SUBJECT_CHARS`` characters, cut at a word."""
    text = re.sub(r"^(?:@AcmeSupport\b[\s,:]*)+", "", text)
    text = re.sub(r"\s+", " ", text).strip()
    first = re.split(r"(?<=[.!?])\s", text, maxsplit=1)[0]
    if 20 <= len(first) <= SUBJECT_CHARS:
        return first
    if len(text) <= SUBJECT_CHARS:
        return text
    cut = text[: SUBJECT_CHARS + 1].rsplit(" ", 1)[0]
    return cut.rstrip(" ,.;:-") + "…"


_EMPTY_RE = re.compile(r"@AcmeSupport|\[link\]|\blink\b|[\s\W]")


def build(convs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    numbers = NumberMasker()
    out: list[dict[str, Any]] = []
    for i, (conv, turns) in enumerate(select(convs)):
        name = FAKE_NAMES[i % len(FAKE_NAMES)]
        first_name = name.split()[0]
        customer = next(t["handle"] for t in turns if t["role"] == "customer")
        agent_texts = [t["text"] for t in turns if t["role"] == "agent"]
        signed = {signoff_of(text, agent=True) for text in agent_texts}
        mask = Masker(
            own_company=company_of(conv["dialogHeader"]["company"]),
            customer_handle=customer,
            customer_name=first_name,
            names=set().union(*map(greeted_names, agent_texts)),
            # a name an agent signs with (not initials), where the customer answers to it
            agent_names={n for n in signed if n and len(n) >= 3 and not n.isupper()},
            numbers=numbers,
        )
        start = _when(turns[0]["datetime"])
        offset = 0
        messages: list[dict[str, Any]] = []
        for t in turns:
            offset = max(offset, int((_when(t["datetime"]) - start).total_seconds() // 60))
            text = mask(t["text"], agent=t["role"] == "agent")
            if _EMPTY_RE.sub("", text):  # a bare mention or picture says nothing: left out
                messages.append({"role": t["role"], "text": text, "offset_minutes": offset})
        while messages[-1]["role"] == "agent":
            messages.pop()
        out.append(
            {
                "customer": {
                    "external_id": f"demo-{i + 1:04d}",
                    "name": name,
                    "email": name.lower().replace(" ", ".") + "@example.com",
                    "tier": TIERS[i % len(TIERS)],
                },
                "channel": "twitter",
                "subject": subject_of(messages[0]["text"]),
                "messages": messages,
            }
        )
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=None, help="data folder holding ibm_twitter_customer_care/")
    ap.add_argument("--out", default=str(DEFAULT_OUT))
    args = ap.parse_args(argv)
    source = data_root(args.data) / DATASET
    convs = json.loads(source.read_text(encoding="utf-8"))
    rows = build(convs)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8", newline="\n") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"{len(rows)} conversations -> {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
