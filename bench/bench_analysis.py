"""Analysis throughput, latency and memory, both tiers next to VADER (same as `gracedesk bench`).

    python bench/bench_analysis.py [--n 20000] [--json bench/results/analysis.json]

Targets (2 cores, issue 8): fast tier >= 0.5x VADER's sentiment-only throughput in the same
run (the machines are noisy, so the target is a ratio), one-message p99 <= 5 ms; accurate tier
>= 230 msg/s batched, one-message p99 <= 25 ms; peak RSS with both tiers loaded <= 500 MB.
The script exits 1 when a target is missed, so it can gate a release.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from gracedesk.eval.bench import render, run

TARGETS = {
    "fast one-message p99 ms": ("fast", "p99_ms", "<=", 5.0),
    "accurate msg/s": ("accurate", "batch_msgs_per_s", ">=", 230),
    "accurate one-message p99 ms": ("accurate", "p99_ms", "<=", 25.0),
}
MAX_RSS_MB = 500


def check(report: dict) -> list[str]:
    missed = []
    for name, (tier, key, op, bound) in TARGETS.items():
        res = report["tiers"][tier]
        value = res["latency_one"][key] if key == "p99_ms" else res[key]
        if not (value >= bound if op == ">=" else value <= bound):
            missed.append(f"{name}: {value:.2f} (target {op} {bound})")
    if report.get("fast_vs_vader") is not None and report["fast_vs_vader"] < 0.5:
        missed.append(f"fast/VADER ratio {report['fast_vs_vader']:.2f} (target >= 0.5)")
    if report["peak_rss_mb"] > MAX_RSS_MB:
        missed.append(f"peak RSS {report['peak_rss_mb']:.0f} MB (target <= {MAX_RSS_MB})")
    return missed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=20_000)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    report = run(["fast", "accurate"], n=args.n)
    print(render(report))
    missed = check(report)
    report["missed_targets"] = missed
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    for m in missed:
        print("MISSED", m)
    sys.exit(1 if missed else 0)


if __name__ == "__main__":
    main()
