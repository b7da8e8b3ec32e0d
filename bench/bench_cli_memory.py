"""`gracedesk analyze` streams: peak memory stays flat as the input grows.

    python bench/bench_cli_memory.py [--sizes 20000 200000]

Writes JSONL files of N messages (bundled samples, repeated), runs the CLI on each in a child
process and reports its peak RSS (ru_maxrss of the child) and throughput. Streaming means the
peak RSS for 10x the input is about the same.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from gracedesk.analysis.samples import SAMPLES


def run_once(n: int, workdir: Path) -> dict[str, float]:
    src = workdir / f"in-{n}.jsonl"
    with src.open("w", encoding="utf-8") as fh:
        for i in range(n):
            fh.write(json.dumps({"id": i, "text": SAMPLES[i % len(SAMPLES)]}) + "\n")
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "gracedesk.cli.main", "analyze", str(src), "-o", "/dev/null"],
        check=True,
    )
    dt = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {
        "messages": n,
        "input_mb": src.stat().st_size / 1e6,
        "seconds": dt,
        "msgs_per_s": n / dt,
        "peak_rss_mb": max(peak, before) / 1024,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[20_000, 200_000])
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for n in sorted(args.sizes):  # RUSAGE_CHILDREN keeps the max: run small first
            r = run_once(n, Path(tmp))
            print(
                f"{r['messages']:>9,} messages ({r['input_mb']:.1f} MB): {r['msgs_per_s']:,.0f} msg/s "
                f"end to end, peak RSS {r['peak_rss_mb']:.0f} MB"
            )


if __name__ == "__main__":
    main()
