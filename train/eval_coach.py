"""Measure the draft coach on train/data/agent_replies.jsonl and time it.

Prints precision / recall / F1 per finding kind and per ``has`` field, separately for the
tuning half (ids ending in an even number: the patterns were tuned on these) and the held-out
half (odd ids: only read for the final report), then throughput in drafts/s.

    .venv/bin/python train/eval_coach.py [--json coach-eval.json] [--n 20000]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from gracedesk.analysis.pipeline import get_analyzer
from gracedesk.guidance.coach import authority_from_limits, coach
from gracedesk.model.critique import FINDING_KINDS, HAS_FIELDS
from gracedesk.model.situation import AgentProfile, Situation, Turn

DATA = Path(__file__).resolve().parent / "data" / "agent_replies.jsonl"


def load(path: Path = DATA) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def half(row: dict[str, Any]) -> str:
    return "tune" if int(row["id"].rsplit("-", 1)[1]) % 2 == 0 else "held_out"


UNCHECKED = AgentProfile(authority=authority_from_limits({}))  # the set has no agent limits


def said(message: str | None) -> Situation | None:
    """The customer's message as the Situation the coach reads (None: the draft alone)."""
    return Situation((Turn("customer", message),), agent=UNCHECKED) if message else None


def predict(rows: list[dict[str, Any]]) -> list[tuple[set[str], dict[str, bool]]]:
    analyzer = get_analyzer("fast")
    with_msg = [r for r in rows if r.get("customer_message")]
    sigs = analyzer.analyze_many([r["customer_message"] for r in with_msg])
    by_id = {r["id"]: s for r, s in zip(with_msg, sigs, strict=True)}
    out = []
    for r in rows:
        c = coach(r["reply"], said(r.get("customer_message")), signals=by_id.get(r["id"]))
        out.append((c.kinds(), c.has))
    return out


def _prf(tp: int, fp: int, fn: int) -> dict[str, float | int]:
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(p, 3), "recall": round(r, 3), "f1": round(f, 3), "support": tp + fn}


def evaluate(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-kind and per-has scores, micro-averaged findings, and clean-reply precision."""
    preds = predict(rows)
    kinds: dict[str, Any] = {}
    micro = [0, 0, 0]
    for k in FINDING_KINDS:
        tp = sum(1 for r, (p, _) in zip(rows, preds, strict=True) if k in p and k in r["findings"])
        fp = sum(
            1 for r, (p, _) in zip(rows, preds, strict=True) if k in p and k not in r["findings"]
        )
        fn = sum(
            1 for r, (p, _) in zip(rows, preds, strict=True) if k not in p and k in r["findings"]
        )
        kinds[k] = _prf(tp, fp, fn)
        micro = [micro[0] + tp, micro[1] + fp, micro[2] + fn]
    has: dict[str, Any] = {}
    for h in HAS_FIELDS:
        if any(h not in r["has"] for r in rows):
            continue  # a field this set does not label (ownership in agent_replies)
        pairs = [(r["has"][h], p[1][h]) for r, p in zip(rows, preds, strict=True)]
        has[h] = _prf(
            sum(g and q for g, q in pairs),
            sum(q and not g for g, q in pairs),
            sum(g and not q for g, q in pairs),
        )
    gold_clean = [p for r, (p, _) in zip(rows, preds, strict=True) if not r["findings"]]
    return {
        "n": len(rows),
        "kinds": kinds,
        "micro": _prf(*micro),
        "has": has,
        "clean_kept_clean": round(sum(not p for p in gold_clean) / max(1, len(gold_clean)), 3),
        "n_clean": len(gold_clean),
    }


def throughput(rows: list[dict[str, Any]], n: int) -> dict[str, float]:
    drafts = [r["reply"] for r in rows]
    drafts = (drafts * (n // len(drafts) + 1))[:n]
    coach(drafts[0])  # load rules once
    t = time.perf_counter()
    for d in drafts:
        coach(d)
    alone = n / (time.perf_counter() - t)
    msgs = [r.get("customer_message") or "" for r in rows]
    msgs = (msgs * (n // len(msgs) + 1))[:n]
    analyzer = get_analyzer("fast")
    t = time.perf_counter()
    for i in range(0, n, 512):  # what `gracedesk coach` does: analyse customers in batches
        sigs = analyzer.analyze_many([m or "." for m in msgs[i : i + 512]])
        for d, m, s in zip(drafts[i : i + 512], msgs[i : i + 512], sigs, strict=True):
            coach(d, said(m), signals=s if m else None)
    with_customer = n / (time.perf_counter() - t)
    return {"drafts_per_s": round(alone), "drafts_per_s_with_customer": round(with_customer)}


def render(report: dict[str, Any]) -> str:
    lines = []
    for name in ("tune", "held_out"):
        r = report[name]
        lines.append(f"\n## {name} half ({r['n']} replies, {r['n_clean']} labelled clean)\n")
        lines.append("| finding | precision | recall | F1 | support |")
        lines.append("|---|---|---|---|---|")
        for k, v in [*r["kinds"].items(), ("all findings (micro)", r["micro"])]:
            lines.append(f"| {k} | {v['precision']} | {v['recall']} | {v['f1']} | {v['support']} |")
        lines.append(f"\nclean replies that come back clean: {r['clean_kept_clean']}\n")
        lines.append("| has | precision | recall | F1 | support |")
        lines.append("|---|---|---|---|---|")
        for k, v in r["has"].items():
            lines.append(f"| {k} | {v['precision']} | {v['recall']} | {v['f1']} | {v['support']} |")
    t = report["throughput"]
    lines.append(
        f"\nthroughput: {t['drafts_per_s']} drafts/s (draft only), "
        f"{t['drafts_per_s_with_customer']} drafts/s (with the customer message analysed)"
    )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", default=None, help="also write the report here")
    ap.add_argument("--n", type=int, default=20_000, help="drafts for the throughput run")
    args = ap.parse_args()
    rows = load()
    report: dict[str, Any] = {
        "tune": evaluate([r for r in rows if half(r) == "tune"]),
        "held_out": evaluate([r for r in rows if half(r) == "held_out"]),
        "throughput": throughput(rows, args.n),
    }
    print(render(report))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
