"""Train the coach's paraphrase-aware move model (``guidance/moves.py``) and measure it.

    .venv/bin/python train/train_coach_moves.py [--json docs/eval-coach-moves.json]

Trained on the **tuning half** of ``train/data/agent_replies.jsonl`` only (even ids; the
reply-level ``has`` labels), on the accurate tier's sentence vectors. Reported, for each move,
precision and recall of the rules alone and of rules-or-model on the held-out half (odd ids) and
on ``tests/data/agent_paraphrases.jsonl`` (150 replies written without reading the rules, never
used for training or tuning). Writes ``analysis/models/coach_moves.npz``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from gracedesk.analysis.pipeline import get_analyzer, models_dir
from gracedesk.guidance.coach import coach
from gracedesk.guidance.moves import MOVES, THRESHOLD, MoveModel

ROOT = Path(__file__).resolve().parents[1]
REPLIES = ROOT / "train" / "data" / "agent_replies.jsonl"
PARAPHRASES = ROOT / "tests" / "data" / "agent_paraphrases.jsonl"


def _rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def _pr(gold: list[bool], pred: list[bool]) -> dict[str, float]:
    tp = sum(g and p for g, p in zip(gold, pred, strict=True))
    fp = sum(p and not g for g, p in zip(gold, pred, strict=True))
    fn = sum(g and not p for g, p in zip(gold, pred, strict=True))
    return {
        "precision": round(tp / (tp + fp), 3) if tp + fp else 1.0,
        "recall": round(tp / (tp + fn), 3) if tp + fn else 1.0,
        "support": tp + fn,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    rows = _rows(REPLIES)
    tune = [r for r in rows if int(r["id"].rsplit("-", 1)[1]) % 2 == 0]
    held = [r for r in rows if int(r["id"].rsplit("-", 1)[1]) % 2 == 1]
    para = _rows(PARAPHRASES)
    enc = get_analyzer("accurate").encoder
    assert enc is not None
    X = enc.embed([r["reply"] for r in tune])
    Y = np.array([[r["has"][m] for m in MOVES] for r in tune], bool)
    model = MoveModel().fit(X, Y)
    model.save(models_dir() / "coach_moves.npz")
    report: dict[str, Any] = {"threshold": THRESHOLD}
    for name, rs in (("held_out", held), ("paraphrases", para)):
        P = model.predict_proba(enc.embed([r["reply"] for r in rs]))
        rules = [coach(r["reply"]).has for r in rs]
        report[name] = {
            m: {
                "rules": _pr([r["has"][m] for r in rs], [h[m] for h in rules]),
                "rules_or_model": _pr(
                    [r["has"][m] for r in rs],
                    [h[m] or bool(P[i, j] >= THRESHOLD) for i, h in enumerate(rules)],
                ),
            }
            for j, m in enumerate(MOVES)
        }
    print(json.dumps(report, indent=1))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
