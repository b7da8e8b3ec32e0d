"""Banking77 retrieval: does a customer's question find its intent's article?

One article per intent lies in ``examples/kb/banking77/<intent>.md`` (written from the intent's
meaning, not from its queries). The queries come from ``../shared/data/banking77/train.csv``
(``text,category``). The dev split is fixed: for each intent, its rows in file order are
shuffled with ``random.Random(77)`` (one generator, intents taken in sorted order) and the first
``round(0.2 * n)`` are the dev queries (stratified 20%, 1,998 queries); the other 80% ("rest")
are only ever used as *answered questions* (``gracedesk.knowledge.memory``: past questions and
the article that settled them), never as queries for the figures. A query counts as correct at
``k`` when its intent's article is among the first ``k``.

The articles are imported into a temporary SQLite store through the service, and the queries
are searched in batches. Rankings compared:

- ``bm25``: full-text only (the baseline); ``semantic``: sentence vectors only; ``hybrid``: both
  (articles alone, a knowledge base with no history);
- ``hybrid+answered``: the hybrid ranking plus the answered questions (the rest split imported
  with ``add_questions``), as a desk that has used its knowledge base for a while has.

``--split tune`` is where parameters were chosen: the rest split is divided again (20% of each
intent as queries, seed 1; the other 80% as answered questions) so the dev queries are never
looked at while tuning. Output: JSON on stdout::

    python train/eval_kb_banking77.py [--data ../shared/data] [--split dev|tune] [--w-sem 0.8]
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SEED = 77
DEV_SHARE = 0.2
BATCH = 256


def split(rows: list[tuple[str, str]]) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(dev, rest) of ``(text, intent)`` rows by the rule in the module docstring."""
    by: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for r in rows:
        by[r[1]].append(r)
    rng = random.Random(SEED)
    dev: list[tuple[str, str]] = []
    rest: list[tuple[str, str]] = []
    for intent in sorted(by):
        items = list(by[intent])
        rng.shuffle(items)
        n = round(DEV_SHARE * len(items))
        dev += items[:n]
        rest += items[n:]
    return dev, rest


def tune_split(
    rest: list[tuple[str, str]],
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(tuning queries, answered questions) from the rest split: the dev rule with seed 1."""
    by: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for r in rest:
        by[r[1]].append(r)
    rng = random.Random(1)
    queries: list[tuple[str, str]] = []
    memory: list[tuple[str, str]] = []
    for intent in sorted(by):
        items = list(by[intent])
        rng.shuffle(items)
        n = round(DEV_SHARE * len(items))
        queries += items[:n]
        memory += items[n:]
    return queries, memory


def load(data: Path) -> list[tuple[str, str]]:
    with (data / "banking77" / "train.csv").open(newline="", encoding="utf-8") as f:
        return [(r["text"], r["category"]) for r in csv.DictReader(f)]


def accuracy(hits: list[list[str]], gold: list[str], k: int) -> float:
    return sum(g in h[:k] for h, g in zip(hits, gold, strict=True)) / max(1, len(gold))


class Memo:
    """An embedder that remembers the vectors it gave (each query is embedded once per run,
    however many configurations are compared)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name = inner.name
        self.seen: dict[str, Any] = {}

    def embed(self, texts: Sequence[str]) -> Any:
        new = [t for t in dict.fromkeys(texts) if t not in self.seen]
        if new:
            for t, v in zip(new, self.inner.embed(new), strict=True):
                self.seen[t] = v
        import numpy as np

        return np.stack([self.seen[t] for t in texts]) if texts else self.inner.embed([])


def run(args: argparse.Namespace) -> dict[str, object]:
    from gracedesk.knowledge import RankConfig, default_embedder
    from gracedesk.service import knowledge, knowledge_index
    from gracedesk.store import Store

    knowledge_index.COMMON_SHARE = args.common_share
    dev, rest = split(load(Path(args.data)))
    queries, answered = (dev, rest) if args.split == "dev" else tune_split(rest)
    if args.limit:
        queries = queries[: args.limit]
    # article ids are the intent labels in lower case (ids are lower-case; "Refund_not_showing_up")
    texts, gold = [q for q, _ in queries], [g.lower() for _, g in queries]
    emb = Memo(default_embedder())
    out: dict[str, object] = {"split": args.split, "queries": len(queries), "seed": SEED}
    out["common_share"] = args.common_share
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(args.url or f"sqlite:///{tmp}/kb.db")
        store.migrate()
        report = knowledge.import_dir(store, Path(args.articles), actor="eval", embedder=emb)
        if report.invalid:
            print(json.dumps(report.to_dict()), file=sys.stderr)
        out["articles"] = len(report.added) + len(report.updated) + len(report.unchanged)
        off = {"w_memory": 0.0}
        configs = {
            "hybrid": RankConfig(method=args.method, w_sem=args.w_sem, **off),
            "semantic": RankConfig(w_sem=1.0, **off),
            "bm25": RankConfig(w_sem=0.0, **off),
        }
        for w in args.sweep:
            for method in ("weighted", "rrf"):
                configs[f"{method}_{w:g}"] = RankConfig(method=method, w_sem=w, **off)
        out.update(_measure(store, texts, gold, configs, emb))
        added = knowledge.add_questions(
            store, [(g.lower(), q) for q, g in answered], actor="eval", embedder=emb
        )
        out["answered_questions"] = added.added
        configs = {
            "hybrid+answered": RankConfig(
                method=args.method, w_sem=args.w_sem, w_memory=args.w_memory
            ),
            "answered_only": RankConfig(method=args.method, w_sem=args.w_sem, w_memory=1.0),
        }
        for w in args.sweep_memory:
            configs[f"hybrid+answered_{w:g}"] = RankConfig(
                method=args.method, w_sem=args.w_sem, w_memory=w
            )
        out.update(_measure(store, texts, gold, configs, emb))
        store.close()
    return out


def _measure(
    store: Any, texts: list[str], gold: list[str], configs: dict[str, Any], emb: Any
) -> dict[str, object]:
    from gracedesk.service import knowledge

    out: dict[str, object] = {}
    for name, cfg in configs.items():
        t0 = time.perf_counter()
        hits: list[list[str]] = []
        for s in range(0, len(texts), BATCH):
            batch = knowledge.search_many(
                store, texts[s : s + BATCH], k=3, config=cfg, embedder=emb
            )
            hits += [[h.article_id for h in hs] for hs in batch]
        took = time.perf_counter() - t0
        out[name] = {
            "acc@1": round(accuracy(hits, gold, 1), 4),
            "acc@3": round(accuracy(hits, gold, 3), 4),
            "seconds": round(took, 2),
            "config": {
                "method": cfg.method,
                "w_sem": cfg.w_sem,
                "rrf_k": cfg.rrf_k,
                "w_memory": cfg.w_memory,
            },
        }
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    p.add_argument("--articles", default=str(ROOT / "examples" / "kb" / "banking77"))
    p.add_argument("--split", choices=["dev", "tune"], default="dev")
    p.add_argument("--method", choices=["weighted", "rrf"], default="weighted")
    p.add_argument("--w-sem", type=float, default=0.8)
    p.add_argument(
        "--sweep", type=float, nargs="*", default=[], help="also these w_sem, both methods"
    )
    p.add_argument("--w-memory", type=float, default=0.8)
    p.add_argument("--sweep-memory", type=float, nargs="*", default=[])
    p.add_argument("--url", default=None, help="an empty database (default: temporary SQLite)")
    p.add_argument(
        "--common-share",
        type=float,
        default=0.2,
        help="words in more than this share of passages are left out of full-text queries",
    )
    p.add_argument("--limit", type=int, default=0, help="only the first N queries (a quick look)")
    print(json.dumps(run(p.parse_args()), indent=2))


if __name__ == "__main__":
    main()
