"""Bulk import benchmark: a twcs archive of N messages through `gracedesk import`.

    python bench/bench_import.py [--n 100000] [--batch 2000] [--postgres URL] [--json OUT]

Writes a file in the Twitter customer-support layout (tests/data/import/twcs.csv shows it) of
N messages: real tweets from ../shared/data (SemEval-2017 task 4A for customers, the IBM
customer-care conversations' agent turns for the company), threaded into conversations of 2-8
tweets by reply ids, rows shuffled (the layout is not sorted), ~8 conversations per customer.
Then, each in a child process (`python -m gracedesk.cli.main import FILE --format twcs`):

- the import into a fresh SQLite database (and a fresh PostgreSQL database `gd_bench_<hex>`,
  created from --postgres and dropped at the end), fast tier: wall seconds from process start
  to exit (Python start and model load included), messages/s, the child's peak RSS;
- the same file again: everything is skipped (the cost of an idempotent re-run).

It also records the import process's CPU seconds and the 1-minute load average before each
run: on a shared machine the wall time depends on what else runs, the CPU time much less.

In this process it then times the analysis alone: the fast tier's `analyze_many` on the same
customer texts in batches of the same size, so the report gives the import/analysis ratio.

Target (issue 12, 2 cores, SQLite): 100,000 messages imported and analysed in <= 180 s, i.e.
<= 1.8 ms a message; the script exits 1 when the SQLite import misses it (scaled to N).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import random
import resource
import secrets
import shlex
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("GRACEDESK_DATA_DIR", ROOT.parent / "shared" / "data"))
TARGET_S_PER_100K = 180.0
COMPANIES = ("AcmeSupport", "GlobexHelp", "InitechCares", "UmbrellaDesk")
HEADER = (
    "tweet_id",
    "author_id",
    "inbound",
    "created_at",
    "text",
    "response_tweet_id",
    "in_response_to_tweet_id",
)
# The child reports its own peak RSS: ru_maxrss of RUSAGE_CHILDREN is the largest child so far,
# which would hide the second run's figure behind the first's.
CHILD = (
    "import resource, runpy, sys\n"
    "sys.argv = ['gracedesk'] + sys.argv[1:]\n"
    "try:\n"
    "    runpy.run_module('gracedesk.cli.main', run_name='__main__')\n"
    "finally:\n"
    "    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
    "    print(f'PEAK_RSS_KB={kb}', file=sys.stderr)\n"
)


def customer_texts() -> list[str]:
    """Tweets to companies and about products (SemEval-2017 4A), de-duplicated."""
    texts: dict[str, None] = {}
    for path in sorted((DATA / "semeval2017_task4a").glob("*.tsv")):
        with path.open(encoding="utf-8", errors="replace") as fh:
            for line in fh:
                parts = line.rstrip("\n").split("\t")
                if len(parts) >= 3 and parts[2].strip():
                    texts.setdefault(parts[2].strip(), None)
    care = DATA / "ibm_twitter_customer_care" / "dev.json"
    for dialog in json.loads(care.read_text(encoding="utf-8")) if care.is_file() else []:
        for turn in dialog.get("dialogContent", []):
            if "agent" not in turn and turn.get("message", "").strip():
                texts.setdefault(turn["message"].strip(), None)
    if not texts:
        sys.exit(f"no texts under {DATA} (set GRACEDESK_DATA_DIR)")
    return list(texts)


def agent_texts() -> list[str]:
    """The company's side: the IBM customer-care agents' tweets."""
    care = DATA / "ibm_twitter_customer_care" / "dev.json"
    out: list[str] = []
    for dialog in json.loads(care.read_text(encoding="utf-8")) if care.is_file() else []:
        out += [t["message"] for t in dialog.get("dialogContent", []) if "agent" in t]
        url = dialog.get("agentURL", {}).get("url_utterance")
        if url:
            out.append(url)
    return out or ["We're sorry to hear that. Please DM us your order number."]


def twitter_time(t: datetime) -> str:
    return t.strftime("%a %b %d %H:%M:%S +0000 %Y")


def write_twcs(path: Path, n: int, seed: int = 12) -> list[str]:
    """A twcs file of ``n`` tweets; returns the customer texts in it (for the analysis run)."""
    rng = random.Random(seed)
    pool, replies = customer_texts(), agent_texts()
    rng.shuffle(pool)
    customers = [str(100_000 + i) for i in range(max(1, n // 40))]  # ~8 conversations each
    base = datetime(2017, 10, 1, tzinfo=UTC)
    rows: list[tuple[str, ...]] = []
    said: list[str] = []
    next_id = 1
    while len(rows) < n:
        size = min(rng.randint(2, 8), n - len(rows))
        who = rng.choice(customers)
        company = rng.choice(COMPANIES)
        at = base + timedelta(minutes=rng.randint(0, 60 * 24 * 90))
        ids = list(range(next_id, next_id + size))
        next_id += size
        for k, tid in enumerate(ids):
            inbound = k % 2 == 0 or rng.random() < 0.15
            if inbound:
                text = pool[len(said) % len(pool)]
                said.append(text)
            else:
                text = f"@{who} " + rng.choice(replies)
            rows.append(
                (
                    str(tid),
                    who if inbound else company,
                    "True" if inbound else "False",
                    twitter_time(at),
                    text,
                    str(ids[k + 1]) if k + 1 < size else "",
                    f"{ids[k - 1]}.0" if k else "",  # pandas wrote parent ids as floats
                )
            )
            at += timedelta(minutes=rng.randint(1, 180))
    rng.shuffle(rows)  # the layout is not sorted: threads are rebuilt from the reply ids
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(HEADER)
        w.writerows(rows)
    return said


def run_import(path: Path, env: dict[str, str], batch: int, cli: list[str]) -> dict[str, Any]:
    """One `gracedesk import` in a child process: wall seconds, peak RSS, its summary."""
    args = [str(path), "--format", "twcs", "--tier", "fast", "--batch", str(batch)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    done = subprocess.run(
        [*cli, "import", *args], env=env, capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode != 0:
        sys.exit(f"import failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    rss = [ln for ln in done.stderr.splitlines() if ln.startswith("PEAK_RSS_KB=")]
    summary = [ln for ln in done.stdout.splitlines() if ln.startswith(("imported", "skipped"))]
    return {
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu, 2),  # the import process alone (not the database server)
        "load_before": round(load, 2),  # 1-minute load average: others on the machine
        "peak_rss_mb": round(int(rss[-1].split("=")[1]) / 1024, 1) if rss else None,
        "summary": summary,
    }


def count_messages(url: str) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as c:
        n = int(c.execute(text("SELECT count(*) FROM messages")).scalar_one())
    engine.dispose()
    return n


def analysis_alone(texts: list[str], batch: int) -> dict[str, Any]:
    """The fast tier on the same customer texts, batch by batch, models already loaded."""
    from gracedesk.analysis.pipeline import get_analyzer

    an = get_analyzer("fast")
    an.analyze_many(texts[:100])  # warm
    cpu0, t0 = time.process_time(), time.perf_counter()
    for i in range(0, len(texts), batch):
        an.analyze_many(texts[i : i + batch])
    seconds = time.perf_counter() - t0
    return {
        "messages": len(texts),
        "seconds": round(seconds, 2),
        "cpu_seconds": round(time.process_time() - cpu0, 2),
        "msgs_per_s": round(len(texts) / seconds, 1),
    }


@contextmanager
def pg_database(admin_url: str) -> Iterator[str]:
    """A fresh database next to ``admin_url``'s, dropped at the end."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    url = make_url(admin_url).set(drivername="postgresql+psycopg")
    name = f"gd_bench_{secrets.token_hex(5)}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def bench_store(
    label: str, path: Path, n: int, env: dict[str, str], url: str, args: argparse.Namespace
) -> dict[str, Any]:
    first = run_import(path, env, args.batch, args.cli)
    stored = count_messages(url)
    again = run_import(path, env, args.batch, args.cli)
    return {
        "store": label,
        "messages": n,
        "stored": stored,
        "seconds": first["seconds"],
        "cpu_seconds": first["cpu_seconds"],
        "load_before": first["load_before"],
        "msgs_per_s": round(n / first["seconds"], 1),
        "peak_rss_mb": first["peak_rss_mb"],
        "summary": first["summary"],
        "reimport_seconds": again["seconds"],
        "reimport_summary": again["summary"],
    }


def machine() -> dict[str, Any]:
    model = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in Path("/proc/cpuinfo").read_text().splitlines()
            if ln.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpus": os.cpu_count(),
        "cpu": model,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "sqlite": sqlite3.sqlite_version,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=100_000, help="messages in the archive")
    ap.add_argument("--batch", type=int, default=2000, help="gracedesk import --batch")
    ap.add_argument("--postgres", metavar="URL", default=None, help="also PostgreSQL (admin URL)")
    ap.add_argument("--json", default=None, help="write every figure here")
    ap.add_argument(
        "--cli",
        default=f"{shlex.quote(sys.executable)} -c {shlex.quote(CHILD)}",
        help="the command that runs gracedesk (it must print PEAK_RSS_KB= for the RSS)",
    )
    args = ap.parse_args()
    args.cli = shlex.split(args.cli)
    report: dict[str, Any] = {"machine": machine(), "n": args.n, "batch": args.batch, "runs": []}
    with tempfile.TemporaryDirectory(prefix="gd-bench-import-") as tmp:
        path = Path(tmp) / "twcs.csv"
        said = write_twcs(path, args.n)
        report["file_mb"] = round(path.stat().st_size / 1e6, 1)
        report["customer_messages"] = len(said)
        report["unique_customer_texts"] = len(set(said))
        base = {k: v for k, v in os.environ.items() if not k.startswith("GRACEDESK_")}
        home = Path(tmp) / "home"
        env = {**base, "GRACEDESK_HOME": str(home)}
        url = f"sqlite:///{home / 'gracedesk.db'}"
        report["runs"].append(bench_store("sqlite", path, args.n, env, url, args))
        if args.postgres:
            with pg_database(args.postgres) as pg:
                env = {**base, "GRACEDESK_HOME": str(home), "GRACEDESK_DATABASE_URL": pg}
                report["runs"].append(bench_store("postgresql", path, args.n, env, pg, args))
        report["analysis_alone"] = analysis_alone(said, args.batch)
    analysis_s = report["analysis_alone"]["seconds"]
    analysis_cpu = report["analysis_alone"]["cpu_seconds"]
    for run in report["runs"]:
        run["import_vs_analysis"] = round(run["seconds"] / analysis_s, 2)
        # the same ratio in CPU time: steady when other processes share the cores
        run["import_vs_analysis_cpu"] = round(run["cpu_seconds"] / analysis_cpu, 2)
    target = TARGET_S_PER_100K * args.n / 100_000
    sqlite_run = report["runs"][0]
    missed = []
    if sqlite_run["seconds"] > target:
        missed.append(f"SQLite import {sqlite_run['seconds']:.1f} s (target <= {target:.0f} s)")
    if any(r["stored"] != args.n for r in report["runs"]):
        missed.append("not every message was stored: " + str([r["stored"] for r in report["runs"]]))
    report["target_s"] = target
    report["missed_targets"] = missed
    print(render(report))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    for m in missed:
        print("MISSED", m)
    sys.exit(1 if missed else 0)


def render(report: dict[str, Any]) -> str:
    m = report["machine"]
    a = report["analysis_alone"]
    lines = [
        f"{m['date']} · {m['cpus']} CPUs ({m['cpu']}) · Python {m['python']} · "
        f"SQLite {m['sqlite']}",
        f"archive: {report['n']:,} tweets ({report['file_mb']} MB), "
        f"{report['customer_messages']:,} from customers "
        f"({report['unique_customer_texts']:,} distinct texts), batch {report['batch']}",
        "",
        "| store | seconds | messages/s | CPU s (import process) | peak RSS MB | "
        "import/analysis (wall, CPU) | re-import s | load before |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in report["runs"]:
        lines.append(
            f"| {r['store']} | {r['seconds']:.1f} | {r['msgs_per_s']:,.0f} | "
            f"{r['cpu_seconds']:.1f} | {r['peak_rss_mb']} | {r['import_vs_analysis']:.2f}, "
            f"{r['import_vs_analysis_cpu']:.2f} | {r['reimport_seconds']:.1f} | "
            f"{r['load_before']:.1f} |"
        )
    lines += [
        "",
        f"analysis alone (fast, analyze_many, batches of {report['batch']}): "
        f"{a['messages']:,} customer texts in {a['seconds']:.1f} s ({a['msgs_per_s']:,.0f}/s, "
        f"{a['cpu_seconds']:.1f} CPU s)",
        f"target: SQLite import <= {report['target_s']:.0f} s",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
