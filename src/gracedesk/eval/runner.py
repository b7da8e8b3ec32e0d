"""``gracedesk eval``: quality of each tier on fixed dev splits, next to offline baselines.

Dev splits (never trained on): GoEmotions dev, OLID / Davidson / VADER-snippets / Banking77 /
SemEval tweets / clothing reviews 15 % seeded hash splits, ConvAbuse valid, our hand-labelled
support messages and customer tweets (dev split), the SemEval-2021 toxic-spans trial set for
evidence, and TweetEval emotion and hate validation sets (out of domain: no TweetEval data is
trained on). Without the public data (``--data``, ``$GRACEDESK_DATA_DIR``, ``../shared/data``)
only the hand-labelled sets shipped in the package are scored, and the report says so.
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

import numpy as np

from gracedesk.eval import datasets as D
from gracedesk.eval.metrics import (
    ece,
    f1,
    macro_f1_binary,
    macro_f1_multiclass,
    reliability,
    span_f1,
)
from gracedesk.model import CAUSES, EMOTIONS, EMOTIONS_FINE, REQUESTS

SENT = ("negative", "neutral", "positive")
DEV_SOURCES = (
    "goemotions", "olid", "davidson", "convabuse", "vader", "banking77", "semeval", "reviews",
    "support", "tweets",
)  # fmt: skip
BUNDLED = ("support", "tweets")  # shipped in the package: scored even without the public data

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
    out["tasks"]["offensive (OLID A, macro-F1)"] = (
        macro_f1_binary(y, P[idx, col["abuse.offensive"]] >= 0.5) if len(idx) else None
    )
    idx, y = _rows(examples, "convabuse", "abuse.offensive")
    out["tasks"]["abuse (ConvAbuse, user->agent, macro-F1)"] = (
        macro_f1_binary(y, P[idx, col["abuse.offensive"]] >= 0.5) if len(idx) else None
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
    out["banking77_abusive_rate"] = out["banking77_threat_rate"] = None
    out["banking77_negative_rate"] = None
    if bank:
        flagged = (P[bank][:, abuse_cols] >= 0.5).any(1)
        out["banking77_abusive_rate"] = float(flagged.mean())
        threat_cols = [col["public_threat"], col["legal_threat"]]
        out["banking77_threat_rate"] = float((P[bank][:, threat_cols] >= 0.5).any(1).mean())
        sent = P[bank][:, [col[f"sentiment.{s}"] for s in SENT]]
        out["banking77_negative_rate"] = float((sent.argmax(1) == 0).mean())
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


BASELINE_HINT = "pip install 'gracedesk[baselines]'"


def _baselines(examples: list[D.Example], notes: list[str]) -> dict[str, Any]:
    """VADER, TextBlob and alt-profanity-check on the same rows; a missing one adds a note."""
    out: dict[str, Any] = {}
    texts = [ex.text for ex in examples]
    try:
        # lazy: an optional baseline, may not be installed
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        va = SentimentIntensityAnalyzer()
        comp = np.array([va.polarity_scores(t)["compound"] for t in texts])
        pred = np.where(comp >= 0.05, 2, np.where(comp <= -0.05, 0, 1))
        out["vader"] = _sent_scores(examples, pred)
        bank = [i for i, ex in enumerate(examples) if ex.source == "banking77"]
        if bank:
            out["vader"]["banking77_negative_rate"] = float((pred[bank] == 0).mean())
    except ImportError:
        notes.append(f"VADER column left out: vaderSentiment is not installed ({BASELINE_HINT})")
    try:
        # lazy: an optional baseline, may not be installed
        from textblob import TextBlob

        pol = np.array([TextBlob(t).sentiment.polarity for t in texts])
        out["textblob"] = _sent_scores(examples, np.where(pol > 0.1, 2, np.where(pol < -0.1, 0, 1)))
    except ImportError:
        notes.append(f"TextBlob column left out: textblob is not installed ({BASELINE_HINT})")
    try:
        # lazy: an optional baseline, may not be installed
        from profanity_check import predict_prob

        pp = predict_prob(texts)
        res: dict[str, Any] = {}
        idx, y = _rows(examples, "olid", "abuse.offensive")
        if len(idx):
            res["offensive (OLID A, macro-F1)"] = macro_f1_binary(y, pp[idx] >= 0.5)
        idx, y = _rows(examples, "convabuse", "abuse.offensive")
        if len(idx):
            res["abuse (ConvAbuse, user->agent)"] = f1(y, pp[idx] >= 0.5)
            res["abuse (ConvAbuse, user->agent, macro-F1)"] = macro_f1_binary(y, pp[idx] >= 0.5)
        idx, y = _rows(examples, "olid", "abuse.insult")
        if len(idx):
            res["insult (OLID TIN)"] = f1(y, pp[idx] >= 0.5)
        bank = [i for i, ex in enumerate(examples) if ex.source == "banking77"]
        if bank:
            res["banking77_abusive_rate"] = float((pp[bank] >= 0.5).mean())
        out["alt-profanity-check"] = res
    except ImportError:
        notes.append(f"alt-profanity-check column left out: it is not installed ({BASELINE_HINT})")
    return out


def _evidence_f1(an: Any, root: Any) -> dict[str, Any]:
    """SemEval-2021 Task 5 metric on the toxic-spans trial set: mean per-post character F1 of
    the abuse evidence (every ``abuse.*`` span), as a span detector alone (the evidence the
    abuse heads would get if they fired) and as the product shows it (only where they fire)."""
    rows = D.load(root, "dev", ("toxic_spans",))
    texts = [ex.text for ex in rows]
    gold = [set(D.spans_of(ex)) for ex in rows]

    def score(evidence: list[Any]) -> float:
        return float(np.mean([
            span_f1({c for e in evs if e.signal.startswith("abuse.") for c in range(e.start, e.end)}, g)
            for evs, g in zip(evidence, gold, strict=True)
        ]))  # fmt: skip

    forced = an.evidence_for(texts, ["abuse.offensive", "abuse.insult", "abuse.profanity"])
    shown = [sig.evidence for sig in an.analyze_many(texts)]
    return {
        # SemEval's setting: every post is known to be toxic, the spans are what is measured
        "toxic_spans_char_f1": score(forced),
        # the product's: evidence appears only when an abuse head fires
        "toxic_spans_char_f1_as_shown": score(shown),
        "toxic_spans_posts": len(rows),
    }


def _sentiment_rows(examples: list[D.Example]) -> dict[str, tuple[list[int], np.ndarray]]:
    """Per source with sentiment labels: the row indices and the class ids (0 neg, 1 neu, 2 pos)."""
    out = {}
    for src in ("semeval", "goemotions", "vader", "reviews", "support", "tweets"):
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
    """Score ``tiers`` on the dev splits. With ``data`` given, a missing folder is an error
    (``FileNotFoundError``); without it, a missing public data folder means only the bundled
    hand-labelled sets are scored (``report["notes"]`` says so)."""
    # lazy: the analysis pipeline and its models load only when an evaluation runs
    from gracedesk.analysis.pipeline import get_analyzer

    notes: list[str] = []
    root: Any
    try:
        root = D.data_dir(data)
    except FileNotFoundError:
        if data is not None:
            raise
        root = None
        notes.append(
            "public datasets not found (--data DIR, $GRACEDESK_DATA_DIR or ../shared/data): "
            "only the hand-labelled support messages and customer tweets shipped with "
            "gracedesk are scored"
        )
    examples = D.load(root, "dev", DEV_SOURCES if root is not None else BUNDLED)
    counts: dict[str, int] = defaultdict(int)
    for ex in examples:
        counts[ex.source] += 1
    report: dict[str, Any] = {"dev_rows": dict(counts), "tiers": {}, "notes": notes}
    te_texts = (
        {t: [x for x, _ in D.tweeteval(root, t)] for t in ("emotion", "hate")} if root else {}
    )
    for tier in tiers:
        an = get_analyzer(tier)
        t0 = time.perf_counter()
        P = an.probabilities([ex.text for ex in examples])[0]
        col = {n: j for j, n in enumerate(an.heads.names_)}
        te: dict[str, Any] = {"out_of_domain": {}}
        if root is not None:
            P_te = {k: an.probabilities(v)[0] for k, v in te_texts.items()}
            te = _tweeteval(P_te, col, root)
            te["evidence"] = _evidence_f1(an, root)
        res = _evaluate(P, an.heads.names_, examples, te)
        res["seconds"] = time.perf_counter() - t0
        report["tiers"][tier] = res
    if baselines:
        report["baselines"] = _baselines(examples, notes)
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
    for key in ("banking77_negative_rate", "banking77_abusive_rate", "banking77_threat_rate"):
        row = f"{key + ' (lower is better)':58s}"
        for t in tiers:
            v = report["tiers"][t][key]
            row += f"{'-' if v is None else f'{v:.4f}':>20s}"
        for b in base:
            v = base[b].get(key)
            row += f"{'-' if v is None else f'{v:.4f}':>20s}"
        lines.append(row)
    for t in tiers:
        for k, v in report["tiers"][t]["out_of_domain"].items():
            lines.append(f"{t}: {k}: {v:.3f}")
        evid = report["tiers"][t].get("evidence")
        if evid:
            lines.append(
                f"{t}: abuse evidence on toxic spans (SemEval-2021 Task 5 trial, mean char F1): "
                f"{evid['toxic_spans_char_f1']:.3f}; as shown, only where an abuse head "
                f"fires: {evid['toxic_spans_char_f1_as_shown']:.3f}"
            )
        lines.append(
            f"{t}: mean ECE over heads: {report['tiers'][t]['calibration']['ece_mean']:.4f}"
        )
    lines.extend(f"note: {n}" for n in report.get("notes", []))
    return "\n".join(lines)
