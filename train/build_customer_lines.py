"""Build ``src/gracedesk/training/lines.jsonl``: real customer turns for the simulated customer.

Reads the customer turns of the IBM Twitter customer-care conversations
(``../shared/data/ibm_twitter_customer_care/{dev,test}.json``, whichever are present;
Apache-2.0, see its SOURCE.txt), splits them into sentences, masks them with the demo masking
(``gracedesk.demo.mask``: handles, links, e-mail addresses, phone, card and order numbers,
company and product names), keeps short English lines that name nothing specific, and tags
each with the state bucket it fits, from the fast analyzer's signals:

    accepting      a plain thank-you, gratitude >= 0.6, anger < 0.3
    public_threat  public_threat >= 0.5          manager     requests.manager >= 0.5
    abusive        insult, harassment, profanity escalating  anger or frustration >= 0.5
    clarifying     a question, confusion >= 0.5

(all but thank-yous: three words or more). Calm, positive turns in the source are small talk
rather than reactions to an agent, so the calming lines are templates only. Lines in no bucket
are dropped. Deterministic: same input, same file (sorted by bucket and source id).
Run: ``.venv/bin/python train/build_customer_lines.py [--data DIR] [--out FILE]``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
from pathlib import Path
from typing import Any

from gracedesk.analysis.pipeline import get_analyzer
from gracedesk.demo.mask import (
    BRAND_HANDLE,
    CARD,
    CODE,
    EMAIL,
    LINK,
    OTHER_BRAND,
    PHONE,
    USER,
    Masker,
    company_of,
)
from gracedesk.model import Signals

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "ibm_twitter_customer_care"
OUT = ROOT / "src" / "gracedesk" / "training" / "lines.jsonl"
MIN_CHARS, MAX_CHARS = 8, 120
MAX_WORDS = 16
MAX_PER_BUCKET = 120
# Lines naming a product or a thing only one kind of company has read oddly in another
# scenario; they are dropped.
SPECIFIC = re.compile(
    r"\b(?:game|games|gaming|song|songs|playlist|album|podcast|music|video|videos|channel|"
    r"stream|streaming|youtube|subscriber|subscribers|flight|flights|plane|seat|seats|boarding|"
    r"baggage|bag|gate|airport|pilot|crew|server|servers|minecraft|photoshop|iphone|ipad|ios|"
    r"mac|macbook|laptop|android|xbox|ps4|ps5|console|twitch|ticket|tickets|covid|corona|"
    r"coronavirus|virus|quarantine|lockdown|pandemic|tweet|tweets|twitter|dm|dms|follow|"
    r"hashtag|instagram|facebook|password|passwords|email|emails|e-mail|login|log|sign|signed|"
    r"verification|code|codes|app|apps|phone|computer|download|install|reinstalled|update|"
    r"files|file|project|import|site|website|tv|network|networks|artists|colors|clips|pdf|"
    r"screen|sharing|towers|engineers|texts|text|sister|friend|friends|rewards|challenge|"
    r"host|cloud|wallet|subscribe|credits|vouchers|bandwidth|states|summer|spring|break|"
    r"albums|comedies|morning|goodnight|sox|fox|puke|lior|sahil|ugly)\b",
    re.I,
)
_THANKS = re.compile(
    r"^(?:(?:ok(?:ay)?|great|perfect|awesome|cool|brilliant|wonderful|amazing)[,!. ]+)?"
    r"(?:thanks?|thank you|thx|cheers|much appreciated)(?: (?:so much|a lot|again|very much|guys|"
    r"for (?:the|your|all the) help|for helping|for (?:the|your) response))*[!. :)]*$",
    re.I,
)
MASKS = (LINK, EMAIL, PHONE, CARD, CODE, USER, OTHER_BRAND, "#", "@", "[", "link")


def bucket_of(sig: Signals, text: str) -> str | None:
    e, a = sig.emotions, sig.abuse
    if _THANKS.match(text):  # a plain thank-you; thanks tacked onto a question is not acceptance
        return "accepting" if e["gratitude"] >= 0.6 and e["anger"] < 0.3 else None
    if len(text.split()) < 3:
        return None  # too short to mean anything out of its thread
    if sig.public_threat >= 0.5:
        return "public_threat"
    if sig.requests.get("manager", 0.0) >= 0.5:
        return "manager"
    if max(a.get("insult", 0.0), a.get("harassment", 0.0), a.get("profanity", 0.0)) >= 0.5:
        return "abusive"
    if max(e["anger"], e["frustration"]) >= 0.5:
        return "escalating"
    if "?" in text:
        return "clarifying" if e["confusion"] >= 0.5 else None
    return None  # calm, positive turns in the source are small talk, not reactions


def customer_turns(data: Path) -> list[tuple[str, str]]:
    """(source id, masked text) of every customer turn, in file order."""
    out = []
    for split in ("dev", "test"):
        if not (data / f"{split}.json").is_file():
            continue  # the stored snapshot may hold one split only
        convs = json.loads((data / f"{split}.json").read_text(encoding="utf-8"))
        for i, conv in enumerate(convs):
            company = conv["dialogHeader"]["company"]
            turns = conv["dialogContent"]
            handle = next((t["client"] for t in turns if "client" in t), "")
            mask = Masker(company_of(company), handle, "there")
            for j, turn in enumerate(turns):
                if "client" not in turn:
                    continue
                text = mask(turn["message"])
                text = text.removeprefix(BRAND_HANDLE).strip()
                for k, sentence in enumerate(sentences(text)):
                    out.append((f"ibm-{split}-{i}-{j}-{k}", sentence))
    return out


def sentences(text: str) -> list[str]:
    """A turn's sentences, and runs of two when both are short (a tweet is often one thought
    split by a full stop)."""
    parts = [p.strip() for p in re.split(r"(?<=[.!?])\s+|\n+", text) if p.strip()]
    out = list(parts)
    for a, b in itertools.pairwise(parts):
        if len(a) + len(b) < 120:
            out.append(f"{a} {b}")
    return out


def usable(text: str) -> bool:
    words = len(text.split())
    if not MIN_CHARS <= len(text) <= MAX_CHARS or "\n" in text or not 2 <= words <= MAX_WORDS:
        return False
    if any(c in text for c in ':"“”‘’*') or "Acme" in text or text[:1] in ",-(":
        return False
    if any(m in text for m in MASKS) or SPECIFIC.search(text):
        return False
    if re.search(r"\d", text):
        return False
    return len(re.findall(r"[A-Za-z]", text)) >= 0.6 * len(text)


def build(data: Path) -> list[dict[str, Any]]:
    analyzer = get_analyzer("fast")
    turns = [(sid, t) for sid, t in customer_turns(data) if usable(t)]
    sigs = analyzer.analyze_many([t for _, t in turns])
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for (sid, text), sig in zip(turns, sigs, strict=True):
        if sig.language not in ("en", "und") or text.lower() in seen:
            continue
        b = bucket_of(sig, text)
        if b is None:
            continue
        seen.add(text.lower())
        rows.append(
            {
                "id": sid,
                "bucket": b,
                "text": text,
                "anger": round(sig.emotions["anger"], 3),
                "sentiment": round(sig.sentiment, 3),
            }
        )
    rows.sort(key=lambda r: (r["bucket"], r["id"]))
    out: list[dict[str, Any]] = []
    for b in sorted({r["bucket"] for r in rows}):
        out += [r for r in rows if r["bucket"] == b][:MAX_PER_BUCKET]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    rows = build(args.data)
    with args.out.open("w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["bucket"]] = counts.get(r["bucket"], 0) + 1
    print(f"{len(rows)} lines -> {args.out} ({args.out.stat().st_size} bytes): {counts}")


if __name__ == "__main__":
    main()
