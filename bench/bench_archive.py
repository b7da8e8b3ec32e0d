"""Archive throughput: ``gracedesk analyze --workers N`` end to end on N real messages.

Builds ``--n`` messages (default 1,000,000) by cycling the tweets of
``../shared/data/semeval2017_task4a/*.tsv`` (real, short, noisy texts), times the whole
command as a user runs it (a subprocess: start-up, model loading, reading, writing), and in the
same run times the single-process command on a 50,000-message sample, so the ratio is measured
under the same load. Exits 1 when the target (1M messages in 5 minutes: 3,334 msg/s) is missed.

    python bench/bench_archive.py --n 1000000 --workers 2
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from itertools import cycle, islice
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "semeval2017_task4a"
TARGET_MSGS_PER_S = 1_000_000 / 300


def texts() -> list[str]:
    out: list[str] = []
    for f in sorted(DATA.glob("*.tsv")):
        for line in f.read_text(encoding="utf-8", errors="replace").splitlines():
            parts = line.split("\t")
            if len(parts) >= 3 and parts[2].strip():
                out.append(parts[2].strip('"').replace("\\u2019", "\u2019").replace("\\u002c", ","))
    if not out:
        sys.exit(f"no texts found under {DATA}")
    return out


def write_input(path: Path, n: int, source: list[str]) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for i, t in enumerate(islice(cycle(source), n)):
            fh.write(json.dumps({"id": f"m{i}", "text": t}, ensure_ascii=False) + "\n")


def timed(args: list[str], out: Path) -> float:
    cmd = [sys.executable, "-m", "gracedesk.cli.main", "analyze", *args, "-o", str(out)]
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, check=False)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({p.returncode}): {p.stderr.decode()[-2000:]}")
    return wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--sample", type=int, default=50_000)
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    a = ap.parse_args()
    src = texts()
    with tempfile.TemporaryDirectory() as d:
        big, small = Path(d) / "big.jsonl", Path(d) / "small.jsonl"
        write_input(big, a.n, src)
        write_input(small, min(a.sample, a.n), src)
        load_before = os.getloadavg()
        single = timed([str(small)], Path(d) / "single.jsonl")
        wall = timed([str(big), "--workers", str(a.workers)], Path(d) / "big.out.jsonl")
        load_after = os.getloadavg()
        with (Path(d) / "big.out.jsonl").open("rb") as fh:
            lines = sum(1 for _ in fh)
    if lines != a.n:
        sys.exit(f"expected {a.n} output lines, got {lines}")
    single_rate = min(a.sample, a.n) / single
    rate = a.n / wall
    report = {
        "n": a.n,
        "workers": a.workers,
        "cpus": os.cpu_count(),
        "distinct_texts": len(src),
        "wall_s": round(wall, 1),
        "msgs_per_s": round(rate),
        "single_process_sample": min(a.sample, a.n),
        "single_process_msgs_per_s": round(single_rate),
        "speedup": round(rate / single_rate, 2),
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in load_after],
        "target_msgs_per_s": round(TARGET_MSGS_PER_S),
    }
    print(json.dumps(report, indent=2))
    if a.json is not None:
        a.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    if rate < TARGET_MSGS_PER_S:
        print(f"MISSED: {rate:.0f} msg/s < {TARGET_MSGS_PER_S:.0f} msg/s", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
