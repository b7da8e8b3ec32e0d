"""``gracedesk bench``: throughput and latency of each tier next to VADER, in one run.

Texts are real short messages (TweetEval offensive validation tweets and GoEmotions dev
comments) repeated to the requested count. Reported: messages/second for ``analyze_many``
(batches of 1,000), one-message ``analyze`` latency p50/p99, VADER's sentiment-only throughput
on the same texts, and the process's peak RSS with every measured model loaded.
"""

from __future__ import annotations

import os
import resource
import time
from typing import Any

import numpy as np

from gracedesk.analysis.samples import SAMPLES
from gracedesk.eval import datasets as D


def _texts(n: int) -> list[str]:
    try:
        root = D.data_dir(None)
        base = [t for t, _ in D.tweeteval(root, "offensive") if t.strip()]
        base += [ex.text for ex in D.goemotions(root, "dev")]
    except FileNotFoundError:
        base = list(SAMPLES)
    reps = -(-n // len(base))
    return (base * reps)[:n]


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _latency(fn: Any, texts: list[str]) -> dict[str, float]:
    times = []
    for t in texts:
        t0 = time.perf_counter()
        fn(t)
        times.append(time.perf_counter() - t0)
    ms = np.array(times) * 1000
    return {"p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99))}


def _throughput(fn: Any, texts: list[str], batch: int) -> float:
    t0 = time.perf_counter()
    for s in range(0, len(texts), batch):
        fn(texts[s : s + batch])
    return len(texts) / (time.perf_counter() - t0)


def run(tiers: list[str], n: int = 20_000) -> dict[str, Any]:
    # lazy: the analysis pipeline and its models load only when an evaluation runs
    from gracedesk.analysis.pipeline import get_analyzer

    texts = _texts(n)
    report: dict[str, Any] = {
        "n": n,
        "cpus": os.cpu_count(),
        "rss_start_mb": _rss_mb(),
        "tiers": {},
    }
    try:
        # lazy: an optional baseline, may not be installed
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        va = SentimentIntensityAnalyzer()
        report["vader_msgs_per_s"] = _throughput(
            lambda b: [va.polarity_scores(t) for t in b], texts, 1000
        )
        report["vader_latency"] = _latency(va.polarity_scores, texts[:1000])
    except ImportError:
        report["vader_msgs_per_s"] = None
    for tier in tiers:
        t0 = time.perf_counter()
        an = get_analyzer(tier)
        # warm-up: models loaded and the evidence's per-feature patterns compiled, so the
        # figures are the steady state a long-running server sees
        an.analyze_many(texts[: 2000 if tier == "fast" else 64])
        res: dict[str, Any] = {"load_s": time.perf_counter() - t0}
        sub = texts if tier == "fast" else texts[: min(n, 3000)]
        res["batch_msgs_per_s"] = _throughput(an.analyze_many, sub, 1000)
        res["batch_size"] = 1000
        res["n"] = len(sub)
        res["latency_one"] = _latency(an.analyze, texts[: 2000 if tier == "fast" else 300])
        report["tiers"][tier] = res
    if report.get("vader_msgs_per_s") and "fast" in report["tiers"]:
        report["fast_vs_vader"] = (
            report["tiers"]["fast"]["batch_msgs_per_s"] / report["vader_msgs_per_s"]
        )
    report["peak_rss_mb"] = _rss_mb()
    return report


def render(r: dict[str, Any]) -> str:
    lines = [f"{r['n']} messages, {r['cpus']} CPUs"]
    if r.get("vader_msgs_per_s"):
        lines.append(f"VADER (sentiment only): {r['vader_msgs_per_s']:,.0f} msg/s, "
                     f"one p50 {r['vader_latency']['p50_ms']:.3f} ms p99 {r['vader_latency']['p99_ms']:.3f} ms")  # fmt: skip
    for t, v in r["tiers"].items():
        lines.append(
            f"{t:8s} full Signals: {v['batch_msgs_per_s']:,.0f} msg/s (analyze_many, batch {v['batch_size']}); "
            f"one message p50 {v['latency_one']['p50_ms']:.2f} ms, p99 {v['latency_one']['p99_ms']:.2f} ms; "
            f"load {v['load_s']:.2f} s"
        )
    if "fast_vs_vader" in r:
        lines.append(f"fast / VADER throughput ratio: {r['fast_vs_vader']:.2f}")
    elif not r.get("vader_msgs_per_s"):
        lines.append("VADER not measured: vaderSentiment is not installed "
                     "(pip install 'gracedesk[baselines]')")  # fmt: skip
    lines.append(f"peak RSS: {r['peak_rss_mb']:.0f} MB")
    return "\n".join(lines)
