"""Training and development data from ``../shared/data`` with fixed, seeded splits.

Every loader returns :class:`Example` rows whose ``labels`` map head names to 0/1 (a head a
source does not label is simply absent). Splits are fixed: the source's own dev split where it
has one, else a seeded hash of the text (15 % dev), so train and dev never share a text.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from gracedesk.model import CAUSES, EMOTIONS_FINE, REQUESTS

DEV_FRACTION = 0.15

# Coarse emotions of the contract from GoEmotions' fine labels.
COARSE_FROM_FINE: dict[str, tuple[str, ...]] = {
    "anger": ("anger", "disgust"),
    "frustration": ("annoyance",),
    "disappointment": ("disappointment",),
    "confusion": ("confusion",),
    "anxiety": ("nervousness", "fear"),
    "sadness": ("sadness", "grief", "remorse"),
    "gratitude": ("gratitude",),
    "joy": ("joy", "excitement", "amusement", "relief"),
}
_POSITIVE = {"amusement", "excitement", "joy", "love", "desire", "optimism", "caring", "pride",
             "admiration", "gratitude", "relief", "approval"}  # fmt: skip
_NEGATIVE = {"fear", "nervousness", "remorse", "embarrassment", "disappointment", "sadness",
             "grief", "disgust", "anger", "annoyance", "disapproval"}  # fmt: skip


@dataclass(slots=True)
class Example:
    text: str
    labels: dict[str, int]
    source: str
    weight: float = 1.0
    meta: dict[str, str] = field(default_factory=dict)


def data_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """``explicit``, else ``$GRACEDESK_DATA_DIR``, else ``../shared/data`` seen from the CWD."""
    if explicit is not None and not Path(explicit).is_dir():
        raise FileNotFoundError(f"training data not found: {explicit} is not a folder")
    for cand in (explicit, os.environ.get("GRACEDESK_DATA_DIR"), "../shared/data"):
        if cand and Path(cand).is_dir():
            return Path(cand)
    raise FileNotFoundError(
        "training data not found: pass --data DIR or set GRACEDESK_DATA_DIR (../shared/data)"
    )


def is_dev(text: str, salt: str) -> bool:
    """Seeded, stable 15 % split on the text itself."""
    h = hashlib.blake2b(f"{salt}\x00{text}".encode(), digest_size=8).digest()
    return int.from_bytes(h, "big") / 2**64 < DEV_FRACTION


def _sent3(label: str) -> dict[str, int]:
    return {f"sentiment.{s}": int(s == label) for s in ("negative", "neutral", "positive")}


def _sentiment(fine: set[str]) -> dict[str, int]:
    pos, neg = bool(fine & _POSITIVE), bool(fine & _NEGATIVE)
    if pos == neg:
        # neutral, or mixed: only "neutral" rows are used as neutral
        if "neutral" in fine:
            return {"sentiment.negative": 0, "sentiment.neutral": 1, "sentiment.positive": 0}
        return {}
    return {"sentiment.negative": int(neg), "sentiment.neutral": 0, "sentiment.positive": int(pos)}


def goemotions(root: Path, split: str) -> Iterator[Example]:
    path = root / "goemotions" / ("train.tsv" if split == "train" else "dev.tsv")
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            text, ids, _ = line.rstrip("\n").split("\t")
            fine = {EMOTIONS_FINE[int(i)] for i in ids.split(",")}
            labels = {f"fine.{e}": int(e in fine) for e in EMOTIONS_FINE}
            for coarse, members in COARSE_FROM_FINE.items():
                labels[f"emotion.{coarse}"] = int(bool(fine.intersection(members)))
            labels.update(_sentiment(fine))
            yield Example(text, labels, "goemotions")


def olid(root: Path, split: str) -> Iterator[Example]:
    path = root / "olid" / "olid-training-v1.0.tsv"
    with path.open(encoding="utf-8") as fh:
        rows = csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
        for r in rows:
            text = r["tweet"]
            if is_dev(text, "olid") != (split == "dev"):
                continue
            off = r["subtask_a"] == "OFF"
            tin = r["subtask_b"] == "TIN"
            labels = {
                "abuse.offensive": int(off),
                "abuse.insult": int(tin),
                "abuse.identity_attack": int(tin and r["subtask_c"] == "GRP"),
            }
            yield Example(text, labels, "olid")


def davidson(root: Path, split: str) -> Iterator[Example]:
    path = root / "davidson_hate_offensive" / "labeled_data.csv"
    with path.open(encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            text = r["tweet"]
            if is_dev(text, "davidson") != (split == "dev"):
                continue
            cls = int(r["class"])  # 0 hate, 1 offensive, 2 neither
            labels = {"abuse.offensive": int(cls != 2), "abuse.identity_attack": int(cls == 0)}
            yield Example(text, labels, "davidson")


_CA_TYPES = ("ableist", "homophobic", "racist", "sexist", "transphobic")


def _convabuse_rows(root: Path, split: str) -> Iterator[dict[str, str]]:
    """ConvAbuse rows as column -> value (train for ``train``, valid otherwise)."""
    name = "ConvAbuseEMNLPtrain.csv" if split == "train" else "ConvAbuseEMNLPvalid.csv"
    with (root / "convabuse" / name).open(encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        for row in reader:
            yield dict(zip(header, row, strict=False))


def _annotators(r: dict[str, str]) -> Iterator[tuple[str, bool]]:
    """``(column prefix, said abusive)`` for each annotator who labelled the row."""
    for a in range(1, 9):
        p = f"Annotator{a}_"
        if any(r.get(p + f"is_abuse.{v}") for v in ("1", "0", "-1", "-2", "-3")):
            yield p, any(r.get(p + f"is_abuse.{v}") == "1" for v in ("-1", "-2", "-3"))


def convabuse(root: Path, split: str) -> Iterator[Example]:
    for r in _convabuse_rows(root, split):
        votes_abuse = votes_ok = 0
        kinds: dict[str, int] = {}
        targeted = 0
        for p, neg in _annotators(r):
            votes_abuse += neg
            votes_ok += not neg
            for k in (*_CA_TYPES, "sex_harassment", "intellectual"):
                kinds[k] = kinds.get(k, 0) + (r.get(p + k) == "1")
            targeted += r.get(p + "target.system") == "1" or r.get(p + "target.individual") == "1"
        if votes_abuse + votes_ok == 0:
            continue
        abusive = votes_abuse > votes_ok
        half = (votes_abuse + votes_ok) / 2
        labels = {
            "abuse.offensive": int(abusive),
            "abuse.insult": int(abusive and (targeted > half or kinds["intellectual"] > 0)),
            "abuse.identity_attack": int(abusive and any(kinds[k] > 0 for k in _CA_TYPES)),
            "abuse.harassment": int(abusive and kinds["sex_harassment"] > 0),
        }
        yield Example(r["user"], labels, "convabuse")


def vader(root: Path, split: str) -> Iterator[Example]:
    for name in ("amazonReviewSnippets", "movieReviewSnippets", "nytEditorialSnippets"):
        path = root / "vader_ground_truth" / f"{name}_GroundTruth.txt"
        with path.open(encoding="utf-8", errors="replace") as fh:
            for line in fh:
                parts = line.rstrip("\n").split("\t")
                if len(parts) < 3:
                    continue
                score, text = float(parts[1]), parts[2]
                if is_dev(text, "vader") != (split == "dev"):
                    continue
                if abs(score) < 0.5:
                    sent = "neutral"
                elif abs(score) < 1.0:
                    continue  # weak polarity: ambiguous, left out
                else:
                    sent = "positive" if score > 0 else "negative"
                yield Example(text, _sent3(sent), "vader")


_BANK_REFUND = {"request_refund"}


def banking77(root: Path, split: str) -> Iterator[Example]:
    """Polite banking queries: in-domain negatives for abuse, threats and negative sentiment."""
    with (root / "banking77" / "train.csv").open(encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            text = r["text"]
            if is_dev(text, "banking77") != (split == "dev"):
                continue
            labels = {
                "abuse.offensive": 0,
                "abuse.insult": 0,
                "abuse.identity_attack": 0,
                "abuse.harassment": 0,
                "abuse.threat": 0,
                "abuse.profanity": 0,
                "public_threat": 0,
                "legal_threat": 0,
                "requests.refund": int(r["category"] in _BANK_REFUND),
                "requests.manager": 0,
                # polite questions: not negative (whether neutral or mildly positive is not said)
                "sentiment.negative": 0,
            }
            yield Example(text, labels, "banking77", meta={"intent": r["category"]})


_BITEXT = {
    "get_refund": "requests.refund",
    "cancel_order": "requests.cancel",
    "contact_human_agent": "requests.manager",
}


def bitext(root: Path, split: str) -> Iterator[Example]:
    """Synthetic support requests (train only: never evaluated on, it is synthetic).

    Used for the request heads only: its intents say what is asked for, not whether the
    customer complains (a refund request there is often a complaint too).
    """
    if split != "train":
        return
    path = (
        root
        / "bitext_customer_support_SYNTHETIC"
        / "Bitext_Sample_Customer_Support_Training_Dataset.csv"
    )
    with path.open(encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            intent = r["intent"]
            labels = {head: int(_BITEXT.get(intent) == head) for head in _BITEXT.values()}
            yield Example(r["instruction"], labels, "bitext", weight=0.5)


HAND_DIR = Path(str(resources.files("gracedesk.eval").joinpath("data")))
_HAND_FLAGS = ("complaint", "public_threat", "legal_threat")
_HAND_ABUSE = ("threat", "insult", "profanity", "harassment")


def _hand_labelled(path: Path, split: str, source: str) -> Iterator[Example]:
    """Rows of one of the project's hand-labelled JSONL files (schema: train/data/README.md)."""
    if not path.exists():
        return
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            if row["split"] != split:
                continue
            lab = row["labels"]
            labels = {k: int(lab[k]) for k in _HAND_FLAGS}
            labels.update({f"abuse.{k}": int(lab[k]) for k in _HAND_ABUSE})
            labels["abuse.offensive"] = int(any(lab[k] for k in _HAND_ABUSE))
            labels.update({f"causes.{c}": int(c in lab["causes"]) for c in CAUSES})
            labels.update({f"requests.{r}": int(r in lab["requests"]) for r in REQUESTS})
            labels["emotion.frustration"] = int(lab["frustration"])
            s = lab["sentiment"]
            labels.update(_sent3(s))
            yield Example(row["text"], labels, source, weight=5.0, meta={"id": row["id"]})


def support_messages(root: Path, split: str) -> Iterator[Example]:
    """The project's hand-written, hand-labelled support messages."""
    return _hand_labelled(HAND_DIR / "support_messages.jsonl", split, "support")


def customer_tweets(root: Path, split: str) -> Iterator[Example]:
    """Real customer tweets to brands (IBM customer care set), masked and hand-labelled by us."""
    return _hand_labelled(HAND_DIR / "customer_tweets.jsonl", split, "tweets")


def semeval(root: Path, split: str) -> Iterator[Example]:
    """SemEval-2013..2016 Twitter sentiment (subtask A): 3-class, deduplicated by text.

    Texts are deduplicated (first label wins, rows whose copies disagree are dropped) and split
    by a seeded hash (15 % dev)."""
    seen: dict[str, str] = {}
    bad: set[str] = set()
    for path in sorted((root / "semeval2017_task4a").glob("twitter-*-A.tsv")):
        with path.open(encoding="utf-8", errors="replace") as fh:
            for line in fh:
                parts = line.rstrip("\n").split("\t")
                if len(parts) < 3 or parts[1] not in ("negative", "neutral", "positive"):
                    continue
                text = parts[2].strip()
                if not text or text == "Not Available":
                    continue
                old = seen.setdefault(text, parts[1])
                if old != parts[1]:
                    bad.add(text)
    for text, label in seen.items():
        if text in bad or is_dev(text, "semeval") != (split == "dev"):
            continue
        yield Example(text, _sent3(label), "semeval")


def reviews(root: Path, split: str) -> Iterator[Example]:
    """Women's e-commerce clothing reviews: 1-2 stars negative, 3 neutral, 4-5 positive."""
    zpath = (
        root / "womens_ecommerce_clothing_reviews" / "Womens Clothing E-Commerce Reviews.csv.zip"
    )
    with zipfile.ZipFile(zpath) as zf, zf.open(zf.namelist()[0]) as raw:
        for r in csv.DictReader(io.TextIOWrapper(raw, encoding="utf-8", newline="")):
            text = (r.get("Review Text") or "").strip()
            if not text:
                continue
            title = (r.get("Title") or "").strip()
            if title:
                text = f"{title}. {text}"
            if is_dev(text, "reviews") != (split == "dev"):
                continue
            stars = int(r["Rating"])
            label = "negative" if stars <= 2 else "neutral" if stars == 3 else "positive"
            yield Example(text, _sent3(label), "reviews", meta={"stars": str(stars)})


def toxic_spans(root: Path, split: str) -> Iterator[Example]:
    """SemEval-2021 Task 5: character offsets of the toxic words (train; ``dev`` is the trial
    split). No head labels: the offsets are in ``meta["spans"]`` (comma-separated)."""
    name = "tsd_train.csv" if split == "train" else "tsd_trial.csv"
    with (root / "toxic_spans" / name).open(encoding="utf-8", newline="") as fh:
        for r in csv.DictReader(fh):
            offsets = json.loads(r["spans"])
            yield Example(r["text"], {}, "toxic_spans", meta={"spans": ",".join(map(str, offsets))})


def politeness(root: Path, split: str) -> Iterator[Example]:
    """Stanford politeness requests (Wikipedia talk pages), unlabelled here (train only)."""
    if split != "train":
        return
    path = root / "stanford_politeness" / "wikipedia.annotated.csv"
    with path.open(encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            yield Example(r["Request"], {}, "politeness")


def spans_of(ex: Example) -> list[int]:
    """The toxic character offsets of a ``toxic_spans`` example."""
    s = ex.meta.get("spans", "")
    return [int(x) for x in s.split(",")] if s else []


SOURCES = {
    "goemotions": goemotions,
    "olid": olid,
    "davidson": davidson,
    "convabuse": convabuse,
    "vader": vader,
    "banking77": banking77,
    "bitext": bitext,
    "support": support_messages,
    "tweets": customer_tweets,
    "semeval": semeval,
    "reviews": reviews,
}
# Sources with no head labels (read explicitly, not by ``load``'s default).
EXTRA_SOURCES = {"toxic_spans": toxic_spans, "politeness": politeness}


def load(root: Path, split: str, sources: tuple[str, ...] = tuple(SOURCES)) -> list[Example]:
    out: list[Example] = []
    for name in sources:
        out.extend({**SOURCES, **EXTRA_SOURCES}[name](root, split))
    return out


def tweeteval(root: Path, task: str) -> list[tuple[str, int]]:
    """TweetEval validation rows ``(text, label id)``: out-of-domain evaluation only."""
    base = root / "tweeteval" / task
    texts = (base / "val_text.txt").read_text(encoding="utf-8").split("\n")
    labels = (base / "val_labels.txt").read_text(encoding="utf-8").split()
    return [(t, int(y)) for t, y in zip(texts, labels, strict=False)]


# -- abuse targets (analysis/target.py) -----------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Targeted:
    """A message with the target of its abuse (``"none"``: not abusive) and where it came from."""

    text: str
    target: str
    source: str


def _second_person(text: str) -> bool:
    return re.search(r"\b(?:you|your|u|ur|you're|youre|yourself)\b", text.lower()) is not None


def abuse_targets(root: Path | None, split: str) -> list[Targeted]:
    """Abusive messages with their target, for ``train``, ``dev`` or ``test``.

    - hand-labelled support messages (``eval/data/abuse_target.jsonl``): its ``train`` split
      for ``train``, its ``test`` split for ``test`` (all five classes, venting included;
      untargeted swearing, labelled ``none`` there, counts as ``company``: the situation);
    - ConvAbuse (majority of the annotators' targets on abusive turns): system -> agent,
      individual -> person, generalised -> group; train for ``train``, valid for ``test``;
    - OLID level C (offensive tweets): OTH (an organisation, situation or issue) and UNT
      (untargeted swearing) -> company, GRP -> group, IND -> agent when the tweet addresses
      someone in the second person (the one a support conversation addresses is the agent),
      else person; a seeded 15 % for ``dev``/``test``, the rest for ``train``.
    ``root`` is the public data folder; without it only the hand-labelled rows are returned.
    """
    want = "test" if split in ("dev", "test") else "train"
    out = _hand_targets(want)
    if root is None:
        return out
    if (root / "convabuse").is_dir():
        out += _convabuse_targets(root, want)
    olid_path = root / "olid" / "olid-training-v1.0.tsv"
    if olid_path.exists():
        out += _olid_targets(olid_path, want)
    return out


def _hand_targets(want: str) -> list[Targeted]:
    """The hand-labelled rows of split ``want`` (``eval/data/abuse_target.jsonl``)."""
    path = HAND_DIR / "abuse_target.jsonl"
    if not path.exists():
        return []
    out: list[Targeted] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            if row["split"] == want:
                # untargeted swearing ("oh shit, I forgot my password") is aimed at nobody
                # in person: the company/situation class, as OLID's UNT below
                t = "company" if row["target"] == "none" and row["abusive"] else row["target"]
                out.append(Targeted(row["text"], t, "hand"))
    return out


def _convabuse_targets(root: Path, want: str) -> list[Targeted]:
    """ConvAbuse turns most annotators call abusive, with their most voted target."""
    mapped = {"system": "agent", "individual": "person", "generalised": "group"}
    out: list[Targeted] = []
    for r in _convabuse_rows(root, want):
        bad = ok = 0
        votes = dict.fromkeys(mapped, 0)
        for p, neg in _annotators(r):
            bad += neg
            ok += not neg
            for t in votes:
                votes[t] += r.get(p + f"target.{t}") == "1"
        if bad > ok and any(votes.values()):
            top = mapped[max(votes, key=lambda t: votes[t])]
            out.append(Targeted(r["user"], top, "convabuse"))
    return out


def _olid_targets(path: Path, want: str) -> list[Targeted]:
    """OLID's offensive tweets in split ``want``, with their level C target mapped."""
    out: list[Targeted] = []
    with path.open(encoding="utf-8") as fh:
        next(fh)
        for line in fh:
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 5 or parts[2] != "OFF":
                continue
            text = parts[1]
            if is_dev(text, "olid-target") != (want == "test"):
                continue
            target = _olid_target(parts[3], parts[4], text)
            if target:
                out.append(Targeted(text, target, "olid"))
    return out


def _olid_target(subtask_b: str, subtask_c: str, text: str) -> str:
    """The target of an offensive OLID tweet from its subtask B and C labels ("": none)."""
    c = subtask_c if subtask_b == "TIN" else "UNT"
    if c == "IND":
        return "agent" if _second_person(text) else "person"
    return {"OTH": "company", "UNT": "company", "GRP": "group"}.get(c, "")
