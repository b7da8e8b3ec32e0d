"""Measure the training simulator on scripts and reactions written independently of it.

1. Score separation: every scenario in the library is played with
   ``tests/training/scripts/<id>.good.jsonl`` and ``<id>.bad.jsonl`` (another author, who did
   not read the simulator); reports mean/min good score, mean/max bad score, the separation
   (good − bad) per scenario, pass rates and outcomes.
2. Reaction agreement: for each row of ``tests/training/reactions.jsonl``
   (``{"scenario", "history", "reply", "expected": calm|escalate|neutral}``) the history is
   replayed, then the reply; the simulated anger's move is read as calm (down by more than
   ``BAND``), escalate (up by more than ``BAND``, or held at the ceiling while patience fell)
   or neutral, and compared with ``expected``.
3. Mixed scripts (``scripts/mixed/<id>.jsonl``, a bad start then a recovery): score and outcome.

Run: ``.venv/bin/python train/eval_training.py [--seeds N] [--json FILE]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any

from gracedesk.analysis.pipeline import get_analyzer
from gracedesk.training.scenario import load_scenarios
from gracedesk.training.simulator import replay

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "tests" / "training" / "scripts"
REACTIONS = ROOT / "tests" / "training" / "reactions.jsonl"
HOLDOUT = ROOT / "tests" / "training" / "holdout"
BAND = 0.03  # |Δanger| at or below this is "neutral"
LABELS = ("calm", "neutral", "escalate")


def _texts(path: Path) -> list[str]:
    return [json.loads(x)["text"] for x in path.read_text("utf-8").splitlines() if x.strip()]


def play(scenario: Any, texts: list[str], seed: int) -> dict[str, Any]:
    sim = replay(scenario, seed, texts)
    r = sim.result()
    return {"score": r.score, "passed": r.passed, "outcome": r.outcome, "turns": len(sim.turns)}


def separation(seeds: int, scripts: Path = SCRIPTS) -> dict[str, Any]:
    rows = []
    for s in load_scenarios():
        good, bad = scripts / f"{s.id}.good.jsonl", scripts / f"{s.id}.bad.jsonl"
        if not (good.is_file() and bad.is_file()):
            continue
        g = [play(s, _texts(good), seed) for seed in range(seeds)]
        b = [play(s, _texts(bad), seed) for seed in range(seeds)]
        gm = statistics.fmean(x["score"] for x in g)
        bm = statistics.fmean(x["score"] for x in b)
        rows.append(
            {
                "scenario": s.id,
                "persona": s.persona,
                "difficulty": s.difficulty,
                "good": round(gm, 1),
                "bad": round(bm, 1),
                "separation": round(gm - bm, 1),
                "good_passed": sum(x["passed"] for x in g) / len(g),
                "bad_passed": sum(x["passed"] for x in b) / len(b),
                "good_outcome": g[0]["outcome"],
                "bad_outcome": b[0]["outcome"],
            }
        )
    if not rows:
        return {"scenarios": 0, "rows": []}
    return {
        "scenarios": len(rows),
        "seeds": seeds,
        "good_mean": round(statistics.fmean(r["good"] for r in rows), 1),
        "good_min": min(r["good"] for r in rows),
        "bad_mean": round(statistics.fmean(r["bad"] for r in rows), 1),
        "bad_max": max(r["bad"] for r in rows),
        "separation_mean": round(statistics.fmean(r["separation"] for r in rows), 1),
        "separation_min": min(r["separation"] for r in rows),
        "good_pass_rate": round(statistics.fmean(r["good_passed"] for r in rows), 3),
        "bad_pass_rate": round(statistics.fmean(r["bad_passed"] for r in rows), 3),
        "rows": rows,
    }


def mixed(scripts: Path = SCRIPTS / "mixed") -> list[dict[str, Any]]:
    """Scripts that start badly and then recover: where the session ends and its score."""
    by_id = {s.id: s for s in load_scenarios()}
    out = []
    for path in sorted(scripts.glob("*.jsonl")) if scripts.is_dir() else []:
        scenario = by_id.get(path.stem)
        if scenario is not None:
            sim = replay(scenario, 0, _texts(path))
            r = sim.result()
            out.append(
                {
                    "scenario": path.stem,
                    "score": r.score,
                    "outcome": r.outcome,
                    "turns_played": len(sim.turns),
                    "anger": [s["anger"] for s in r.states],
                }
            )
    return out


def reaction(before: Any, after: Any) -> str:
    delta = after.anger - before.anger
    if delta < -BAND:
        return "calm"
    if delta > BAND or (before.anger >= 0.999 and after.patience < before.patience - BAND):
        return "escalate"
    return "neutral"


def agreement(path: Path = REACTIONS) -> dict[str, Any]:
    if not path.is_file():
        return {"rows": 0}
    by_id = {s.id: s for s in load_scenarios()}
    analyzer = get_analyzer("fast")
    confusion = {e: dict.fromkeys(LABELS, 0) for e in LABELS}
    skipped, misses = 0, []
    for line in path.read_text("utf-8").splitlines():
        if not line.strip():
            continue
        item = json.loads(line)
        scenario = by_id.get(item["scenario"])
        if scenario is None:
            skipped += 1
            continue
        sim = replay(scenario, 0, item["history"], analyzer=analyzer)
        if sim.done:
            skipped += 1
            continue
        before = sim.state
        sim.reply(item["reply"])
        got = reaction(before, sim.state)
        confusion[item["expected"]][got] += 1
        if got != item["expected"]:
            misses.append({**item, "got": got, "delta": round(sim.state.anger - before.anger, 3)})
    n = sum(sum(r.values()) for r in confusion.values())
    hits = sum(confusion[e][e] for e in LABELS)
    per = {e: round(confusion[e][e] / max(1, sum(confusion[e].values())), 3) for e in LABELS}
    # direction only: calm vs escalate rows, ignoring neutral
    dn = sum(confusion[e][g] for e in ("calm", "escalate") for g in LABELS)
    dh = confusion["calm"]["calm"] + confusion["escalate"]["escalate"]
    return {
        "rows": n,
        "skipped": skipped,
        "agreement": round(hits / max(1, n), 3),
        "direction_agreement": round(dh / max(1, dn), 3),
        "per_label": per,
        "confusion": confusion,
        "misses": misses,
    }


def render(sep: dict[str, Any], agr: dict[str, Any], mix: list[dict[str, Any]]) -> str:
    out = []
    if sep.get("rows"):
        out.append(
            f"Score separation over {sep['scenarios']} scenarios x {sep['seeds']} seed(s):\n"
            f"  good: mean {sep['good_mean']}, min {sep['good_min']}, pass rate "
            f"{sep['good_pass_rate']:.0%}\n"
            f"  bad:  mean {sep['bad_mean']}, max {sep['bad_max']}, pass rate "
            f"{sep['bad_pass_rate']:.0%}\n"
            f"  separation (good - bad): mean {sep['separation_mean']}, "
            f"min {sep['separation_min']}"
        )
        out.append(f"  {'scenario':<34} {'good':>6} {'bad':>6} {'sep':>6}  outcomes (good/bad)")
        for r in sep["rows"]:
            out.append(
                f"  {r['scenario']:<34} {r['good']:>6} {r['bad']:>6} {r['separation']:>6}  "
                f"{r['good_outcome']}/{r['bad_outcome']}"
            )
    if mix:
        out.append("\nMixed scripts (bad start, then recovery):")
        for m in mix:
            out.append(
                f"  {m['scenario']:<34} {m['score']:>6}  {m['outcome']} after "
                f"{m['turns_played']} turn(s); anger {m['anger']}"
            )
    if agr.get("rows"):
        out.append(
            f"\nReaction agreement on {agr['rows']} rows ({agr['skipped']} skipped): "
            f"{agr['agreement']:.1%} (calm vs escalate only: {agr['direction_agreement']:.1%})\n"
            f"  per expected label: "
            + ", ".join(f"{k} {v:.0%}" for k, v in agr["per_label"].items())
            + "\n  confusion (expected -> got): "
            + "; ".join(
                f"{e}: " + " ".join(f"{g} {c}" for g, c in row.items())
                for e, row in agr["confusion"].items()
            )
        )
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=3, help="Seeds per script (lines differ).")
    ap.add_argument("--json", type=Path, default=None, help="Also write the full report here.")
    ap.add_argument("--misses", action="store_true", help="List the reaction rows missed.")
    ap.add_argument(
        "--holdout",
        action="store_true",
        help="Measure on tests/training/holdout/ (written after the simulator was tuned; never "
        "look at its misses to change the rules).",
    )
    args = ap.parse_args()
    scripts, reactions = (
        (HOLDOUT / "scripts", HOLDOUT / "reactions.jsonl")
        if args.holdout
        else (
            SCRIPTS,
            REACTIONS,
        )
    )
    sep = separation(args.seeds, scripts)
    agr = agreement(reactions)
    mix = mixed(scripts / "mixed")
    print(render(sep, agr, mix))
    if args.misses:
        for m in agr.get("misses", []):
            print(f"  [{m['expected']}->{m['got']} {m['delta']:+}] {m['scenario']}: {m['reply']}")
    if args.json is not None:
        report = {"separation": sep, "mixed": mix, "reactions": agr}
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
