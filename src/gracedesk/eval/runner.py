"""``gracedesk eval``: quality of each tier on fixed dev splits, next to offline baselines.

Dev splits (never trained on): GoEmotions dev, OLID / Davidson / VADER-snippets / Banking77
15 % seeded hash splits, ConvAbuse valid, our hand-labelled support messages (dev split), and
TweetEval emotion and hate validation sets (out of domain: no TweetEval data is trained on).
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

import numpy as np

from gracedesk.eval import datasets as D
from gracedesk.eval.metrics import ece, f1, macro_f1_binary, macro_f1_multiclass, reliability
from gracedesk.model import CAUSES, EMOTIONS, EMOTIONS_FINE, REQUESTS

SENT = ("negative", "neutral", "positive")
DEV_SOURCES = (
    "goemotions", "olid", "davidson", "convabuse", "vader", "banking77", "support", "tweets",
)  # fmt: skip

# task name -> (source, heads) ; binary heads scored by F1 of the positive class, macro-averaged
TASKS: dict[str, tuple[str, list[str]]] = {
    "emotions_fine (28, GoEmotions)": ("goemotions", [f"fine.{e}" for e in EMOTIONS_FINE]),
    "emotions (8, GoEmotions + support)": ("goemotions+support", [f"emotion.{e}" for e in EMOTIONS]),
    "insult (OLID TIN)": ("olid", ["abuse.insult"]),
    "identity_attack (Davidson hate)": ("davidson", ["abuse.identity_attack"]),
    "abuse (ConvAbuse, user->agent)": ("convabuse", ["abuse.offensive"]),
    "harassment (ConvAbuse)": ("convabuse", ["abuse.harassment"]),
    "complaint (support)": ("support", ["complaint"]),
    "causes (5, support)": ("support", [f"causes.{c}" for c in CAUSES]),
    "requests (4, support)": ("support", [f"requests.{r}" for r in REQUESTS]),
    "threats public/legal (support)": ("support", ["public_threat", "legal_threat"]),
    "abuse kinds (support: insult, threat, profanity, harassment)": (
        "support", ["abuse.insult", "abuse.threat", "abuse.profanity", "abuse.harassment"]),
    "frustration (support)": ("support", ["emotion.frustration"]),
    "complaint (customer tweets)": ("tweets", ["complaint"]),
    "requests (4, customer tweets)": ("tweets", [f"requests.{r}" for r in REQUESTS]),
}  # fmt: skip


def _rows(examples: list[D.Example], source: str, head: str) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the examples from ``source`` that label ``head``, and those labels."""
    srcs = set(source.split("+"))
    idx = [i for i, ex in enumerate(examples) if ex.source in srcs and head in ex.labels]
    y = np.array([examples[i].labels[head] for i in idx], dtype=int)
    return np.array(idx, dtype=int), y


def _evaluate(
    P: np.ndarray, names: list[str], examples: list[D.Example], te: dict[str, Any]
) -> dict[str, Any]:
    col = {n: j for j, n in enumerate(names)}
    out: dict[str, Any] = {"tasks": {}, "heads": {}, "calibration": {}}
    # sentiment: 3-class macro-F1 per source
    for src, (sidx, y) in _sentiment_rows(examples).items():
        pred = P[sidx][:, [col[f"sentiment.{s}"] for s in SENT]].argmax(1)
        out["tasks"][f"sentiment 3-class ({src})"] = macro_f1_multiclass(y, pred, 3)
    # offensive: OffensEval-style macro-F1 on OLID
    idx, y = _rows(examples, "olid", "abuse.offensive")
    out["tasks"]["offensive (OLID A, macro-F1)"] = macro_f1_binary(
        y, P[idx, col["abuse.offensive"]] >= 0.5
    )
    for task, (src, heads) in TASKS.items():
        scores = []
        for h in heads:
            idx, y = _rows(examples, src, h)
            if len(idx) == 0 or y.sum() == 0:
                continue
            p = P[idx, col[h]]
            scores.append(f1(y, p >= 0.5))
            out["heads"][f"{h} [{src}]"] = {
                "f1": scores[-1],
                "n": len(y),
                "positives": int(y.sum()),
            }
        out["tasks"][task] = float(np.mean(scores)) if scores else None
    # false positives on polite banking queries
    bank = [i for i, ex in enumerate(examples) if ex.source == "banking77"]
    abuse_cols = [
        col[f"abuse.{a}"]
        for a in ("offensive", "insult", "threat", "profanity", "harassment", "identity_attack")
    ]
    flagged = (P[bank][:, abuse_cols] >= 0.5).any(1)
    out["banking77_abusive_rate"] = float(flagged.mean())
    threat_cols = [col["public_threat"], col["legal_threat"]]
    out["banking77_threat_rate"] = float((P[bank][:, threat_cols] >= 0.5).any(1).mean())
    # calibration: ECE of every head over all its labelled dev rows
    eces = {}
    for h, j in col.items():
        rows = [i for i, ex in enumerate(examples) if h in ex.labels]
        if not rows:
            continue
        y = np.array([examples[i].labels[h] for i in rows], dtype=int)
        eces[h] = ece(y, P[rows, j])
        if h in ("abuse.offensive", "emotion.anger", "complaint", "sentiment.negative"):
            out["calibration"][f"reliability {h}"] = reliability(y, P[rows, j])
    out["calibration"]["ece_mean"] = float(np.mean(list(eces.values())))
    out["calibration"]["ece_per_head"] = eces
    out.update(te)
    return out


def _tweeteval(P_te: dict[str, np.ndarray], col: dict[str, int], root: Any) -> dict[str, Any]:
    """Out-of-domain: TweetEval emotion (anger/joy/optimism/sadness) and hate (val sets)."""
    out: dict[str, Any] = {}
    emo = D.tweeteval(root, "emotion")
    y = np.array([lab for _, lab in emo])
    P = P_te["emotion"]
    # 0 anger, 1 joy, 2 optimism, 3 sadness -> our anger / joy / sadness (optimism counted as joy)
    cls = np.stack([P[:, col["emotion.anger"]], P[:, col["emotion.joy"]], P[:, col["fine.optimism"]],
                    P[:, col["emotion.sadness"]]], 1).argmax(1)  # fmt: skip
    out["tweeteval_emotion_macro_f1 (4-class, argmax)"] = macro_f1_multiclass(y, cls, 4)
    hate = D.tweeteval(root, "hate")
    yh = np.array([lab for _, lab in hate])
    Ph = P_te["hate"]
    out["tweeteval_hate_macro_f1 (identity_attack|insult)"] = macro_f1_binary(
        yh, (Ph[:, col["abuse.identity_attack"]] >= 0.5) | (Ph[:, col["abuse.insult"]] >= 0.5)
    )
    return {"out_of_domain": out}


def _baselines(examples: list[D.Example], root: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    texts = [ex.text for ex in examples]
    try:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        va = SentimentIntensityAnalyzer()
        comp = np.array([va.polarity_scores(t)["compound"] for t in texts])
        out["vader"] = _sent_scores(
            examples, np.where(comp >= 0.05, 2, np.where(comp <= -0.05, 0, 1))
        )
    except ImportError:
        pass
    try:
        from textblob import TextBlob

        pol = np.array([TextBlob(t).sentiment.polarity for t in texts])
        out["textblob"] = _sent_scores(examples, np.where(pol > 0.1, 2, np.where(pol < -0.1, 0, 1)))
    except ImportError:
        pass
    try:
        from profanity_check import predict_prob

        pp = predict_prob(texts)
        res = {}
        idx, y = _rows(examples, "olid", "abuse.offensive")
        res["offensive (OLID A, macro-F1)"] = macro_f1_binary(y, pp[idx] >= 0.5)
        idx, y = _rows(examples, "convabuse", "abuse.offensive")
        res["abuse (ConvAbuse, user->agent)"] = f1(y, pp[idx] >= 0.5)
        bank = [i for i, ex in enumerate(examples) if ex.source == "banking77"]
        res["banking77_abusive_rate"] = float((pp[bank] >= 0.5).mean())
        out["alt-profanity-check"] = res
    except ImportError:
        pass
    return out


def _sentiment_rows(examples: list[D.Example]) -> dict[str, tuple[list[int], np.ndarray]]:
    """Per source with sentiment labels: the row indices and the class ids (0 neg, 1 neu, 2 pos)."""
    out = {}
    for src in ("goemotions", "vader", "support", "tweets"):
        idx = [
            i
            for i, ex in enumerate(examples)
            if ex.source == src and "sentiment.neutral" in ex.labels
        ]
        if idx:
            y = np.array([[examples[i].labels[f"sentiment.{s}"] for s in SENT] for i in idx])
            out[src] = (idx, y.argmax(1))
    return out


def _sent_scores(examples: list[D.Example], pred: np.ndarray) -> dict[str, float]:
    return {
        f"sentiment 3-class ({src})": macro_f1_multiclass(y, pred[idx], 3)
        for src, (idx, y) in _sentiment_rows(examples).items()
    }


def run(tiers: list[str], data: str | None = None, baselines: bool = True) -> dict[str, Any]:
    from gracedesk.analysis.pipeline import get_analyzer

    root = D.data_dir(data)
    examples = D.load(root, "dev", DEV_SOURCES)
    counts: dict[str, int] = defaultdict(int)
    for ex in examples:
        counts[ex.source] += 1
    report: dict[str, Any] = {"dev_rows": dict(counts), "tiers": {}}
    te_texts = {t: [x for x, _ in D.tweeteval(root, t)] for t in ("emotion", "hate")}
    for tier in tiers:
        an = get_analyzer(tier)
        t0 = time.perf_counter()
        P, _ = an.probabilities([ex.text for ex in examples])
        P_te = {k: an.probabilities(v)[0] for k, v in te_texts.items()}
        col = {n: j for j, n in enumerate(an.heads.names_)}
        res = _evaluate(P, an.heads.names_, examples, _tweeteval(P_te, col, root))
        res["seconds"] = time.perf_counter() - t0
        report["tiers"][tier] = res
    if baselines:
        report["baselines"] = _baselines(examples, root)
    return report


def render(report: dict[str, Any]) -> str:
    tiers = list(report["tiers"])
    base = report.get("baselines", {})
    names = list(next(iter(report["tiers"].values()))["tasks"])
    cols = [*tiers, *base]
    lines = [f"{'task (macro-F1 on dev)':58s}" + "".join(f"{c:>20s}" for c in cols)]
    for n in names:
        row = f"{n:58s}"
        for t in tiers:
            v = report["tiers"][t]["tasks"][n]
            row += f"{'-' if v is None else f'{v:.3f}':>20s}"
        for b in base:
            v = base[b].get(n)
            row += f"{'-' if v is None else f'{v:.3f}':>20s}"
        lines.append(row)
    for key in ("banking77_abusive_rate", "banking77_threat_rate"):
        row = f"{key + ' (lower is better)':58s}"
        for t in tiers:
            row += f"{report['tiers'][t][key]:>20.4f}"
        for b in base:
            v = base[b].get(key)
            row += f"{'-' if v is None else f'{v:.4f}':>20s}"
        lines.append(row)
    for t in tiers:
        for k, v in report["tiers"][t]["out_of_domain"].items():
            lines.append(f"{t}: {k}: {v:.3f}")
        lines.append(
            f"{t}: mean ECE over heads: {report['tiers'][t]['calibration']['ece_mean']:.4f}"
        )
    return "\n".join(lines)
