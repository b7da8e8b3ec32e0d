"""The draft coach: an agent's draft reply -> :class:`~gracedesk.model.critique.Critique`.

Phrase findings (excuse, blame, jargon, dismissive, negative phrasing, sarcasm, vague promises)
come from ``coach_rules.toml``: regex groups gated by key words, as in ``analysis/rules.py``, so
a draft costs a few set look-ups plus the patterns its words trigger. Structural findings
(all caps, over-apology, no empathy, no next step, no timeline) are computed here from the cue
groups in the same file. Precision comes first: a finding is only raised on explicit wording.
The score formula and the data format are in docs/coach.md.
"""

from __future__ import annotations

import functools
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from importlib import resources
from typing import Any

from gracedesk.analysis.pipeline import get_analyzer
from gracedesk.analysis.text import clean, tokens
from gracedesk.errors import CoachRulesError, EmptyText, InvalidCoachContext
from gracedesk.guidance.commitments import (
    DEFAULT_CALENDAR,
    BusinessCalendar,
    extract_commitments,
    find_times,
    zone,
)
from gracedesk.guidance.moves import MOVES, MoveDetector
from gracedesk.model.critique import FINDING_KINDS, Critique, Finding
from gracedesk.model.guidance import ArticleRef
from gracedesk.model.signals import Signals
from gracedesk.model.situation import Authority, Situation

PHRASE_KINDS = ("excuse", "blame", "jargon", "dismissive", "negative_phrasing", "sarcasm")
CUES = ("empathy", "apology", "solution", "next_step", "promise", "closing", "polite", "answer")
MESSAGES = {
    "all_caps": "Capitals read as shouting.",
    "over_apology": "Apologising again and again sounds scripted and delays the answer.",
    "no_empathy": "The customer is upset and the reply never acknowledges it.",
    "no_next_step": "The reply doesn't say what happens next or what the customer can do.",
    "no_timeline": "This promises an action but not when, so the customer will have to chase.",
    "over_authority": "This promises more than your authority allows: get it approved first.",
}
_OWNERSHIP = re.compile(
    r"\b(?:i(?:'ll| will) (?:personally |make sure |take care|look after|own|handle|sort|fix"
    r"|get (?:this|it|that) (?:sorted|fixed|done))|leave (?:it|this) with me|i(?:'m| am) "
    r"(?:going to|taking|on it|handling|personally)|let me (?:fix|sort|handle|take care|get"
    r" this)|(?:that'?s|this is|it'?s) on (?:us|me)|(?:our|my) (?:mistake|fault|error)"
    r"|i(?:'ve| have) (?:gone ahead|gone and|gone|taken care|sorted|fixed|arranged|booked"
    r"|sent|refunded|credited|reversed|switched|issued|escalated))\b"
)
_NUMBER = r"\d(?:[\d,.]*\d)?"  # 1,200.50 or 1.200,50
_MONEY = rf"(?:[£$€]\s?{_NUMBER}|{_NUMBER}\s?(?:pounds|dollars|euros|eur|usd|gbp))"
_OFFER = {
    "refund": r"refund\w*|reimburs\w*|money back|pay(?:ing)? you back",
    "credit": r"credit\w*|voucher|goodwill|compensat\w*",
}
_AMOUNTS = {
    kind: re.compile(
        rf"\b(?:{words})\b[^.!?\n]{{0,40}}?({_MONEY})|({_MONEY})[^.!?\n]{{0,25}}?\b(?:{words})\b"
    )
    for kind, words in _OFFER.items()
}
_SENTENCE = re.compile(r"[^.!?\n]+(?:[.!?]+|$)")
_CAPS_WORD = re.compile(r"[A-Z][A-Z'’]*[A-Z]|\b[A-Z]\b")
_IMMEDIATE = re.compile(r"\b(?:right away|straight away|immediately|right now|today)\b|\bif\b")


@dataclass(frozen=True, slots=True)
class Rule:
    pattern: re.Pattern[str]
    keys: frozenset[str]
    suggestion: str
    when: str | None  # "no_timeline": only when the draft names no time


@dataclass(frozen=True, slots=True)
class Group:
    name: str
    message: str
    suggestion: str
    rules: tuple[Rule, ...]


@dataclass(frozen=True, slots=True)
class Hit:
    start: int
    end: int
    rule: Rule


class CoachRules:
    """The phrase groups of ``coach_rules.toml`` with a key-word index over their patterns."""

    def __init__(self, data: dict[str, Any], source: str = "coach_rules.toml") -> None:
        self.version = str(data.get("version", "0"))
        try:
            score = data["score"]
            self.weights: dict[str, int] = {k: int(v) for k, v in score["weights"].items()}
            self.max_count = int(score.get("max_count", 2))
            caps = data.get("all_caps", {})
            self.caps_allow = frozenset(caps.get("allow", []))
            self.caps_emphasis = frozenset(caps.get("emphasis", []))
            upset = data.get("upset", {})
            self.emotion_threshold = float(upset.get("emotion_threshold", 0.6))
            self.upset = tuple(re.compile(p) for p in upset.get("patterns", []))
            self.upset_cs = tuple(re.compile(p) for p in upset.get("case_sensitive", []))
            groups = [self._group(g) for g in data["group"]]
        except (KeyError, TypeError, ValueError, re.error) as exc:
            raise CoachRulesError(f"{source}: {exc}") from exc
        unknown = set(self.weights) - set(FINDING_KINDS)
        missing = {*PHRASE_KINDS, "vague_promise", *CUES} - {g.name for g in groups}
        if unknown or missing:
            raise CoachRulesError(f"{source}: unknown weights {unknown or ''} missing {missing}")
        self.groups = {g.name: g for g in groups}
        index: dict[str, list[tuple[str, Rule]]] = {}
        for g in groups:
            for r in g.rules:
                for k in r.keys:
                    index.setdefault(k, []).append((g.name, r))
        self._index = index
        self._keys = frozenset(index)

    @staticmethod
    def _group(g: dict[str, Any]) -> Group:
        name = g["name"]
        keys = frozenset(k.lower() for k in g.get("keys", []))
        rules = []
        for p in g["patterns"]:
            try:
                pat = re.compile(p["re"])
            except re.error as exc:
                raise CoachRulesError(f"group {name!r}: {p['re']!r}: {exc}") from exc
            rkeys = frozenset(p["keys"]) if "keys" in p else keys
            if not rkeys:
                raise CoachRulesError(f"group {name!r}: pattern {p['re']!r} has no keys")
            rules.append(
                Rule(pat, rkeys, p.get("suggestion", g.get("suggestion", "")), p.get("when"))
            )
        return Group(name, g.get("message", ""), g.get("suggestion", ""), tuple(rules))

    @classmethod
    @functools.cache
    def default(cls) -> CoachRules:
        path = resources.files("gracedesk.guidance").joinpath("coach_rules.toml")
        return cls(tomllib.loads(path.read_text(encoding="utf-8")))

    def scan(self, low: str, toks: set[str]) -> dict[str, list[Hit]]:
        """Matches of every triggered pattern, per group, without overlaps inside a group."""
        todo: dict[int, tuple[str, Rule]] = {}
        for k in self._keys.intersection(toks):
            for name, rule in self._index[k]:
                todo[id(rule)] = (name, rule)
        out: dict[str, list[Hit]] = {}
        for name, rule in todo.values():
            for m in rule.pattern.finditer(low):
                s, e = m.span("span") if "span" in rule.pattern.groupindex else m.span()
                if e > s:
                    out.setdefault(name, []).append(Hit(s, e, rule))
        for name, hits in out.items():
            hits.sort(key=lambda h: (h.start, -h.end))
            kept: list[Hit] = []
            for h in hits:
                if not kept or h.start >= kept[-1].end:
                    kept.append(h)
            out[name] = kept
        return out


_LIMIT_FIELDS = {
    "refund": "refund_limit",
    "credit": "credit_limit",
    "discount": "discount_pct_limit",
}


def authority_from_limits(limits: Mapping[str, float]) -> Authority:
    """The coach's limits (``{"refund": 50, "credit": 25}``, as the policy's authority for a
    role gives them) as an :class:`Authority`; a kind not given is not known (not checked)."""
    return Authority(
        **{f: float(limits[k]) if k in limits else None for k, f in _LIMIT_FIELDS.items()}
    )


@dataclass(frozen=True, slots=True)
class _Context:
    """What the coach reads from the Situation besides the draft."""

    message: str | None  # the customer's message the draft answers
    name: str | None  # the customer's name
    signals: Signals | None  # the message's Signals: given, or computed by the fast analyzer
    limits: Mapping[str, float]  # what the agent may grant alone, by kind (refund, credit)

    @classmethod
    def of(cls, situation: Situation | None, signals: Signals | None) -> _Context:
        if situation is None:
            return cls(None, None, signals, {})
        turn = situation.message
        message = turn.text if turn is not None and turn.text.strip() else None
        auth = situation.agent.authority
        limits = {"refund": auth.refund_limit, "credit": auth.credit_limit}
        return cls(
            message,
            situation.customer.name,
            customer_signals(message, signals),
            {k: v for k, v in limits.items() if v is not None},
        )


def _norm(text: str) -> str:
    low = text.lower().replace("’", "'")
    if len(low) != len(text):
        low = "".join(c if len(c.lower()) != 1 else c.lower() for c in text).replace("’", "'")
    return low


def customer_signals(message: str | None, signals: Signals | None = None) -> Signals | None:
    """The customer's Signals: given, or computed by the fast analyzer from their message."""
    if signals is not None or not (message and message.strip()):
        return signals
    return get_analyzer("fast").analyze(message)


def is_upset(s: Signals | None, message: str | None, rules: CoachRules) -> bool:
    """Upset: a strong negative emotion in the Signals, or upset wording in the message."""
    if s is not None:
        e = s.emotions
        if max(e.get(k, 0.0) for k in ("anger", "frustration", "disappointment")) >= (
            rules.emotion_threshold
        ):
            return True
    if message:
        low = _norm(message)
        return any(p.search(low) for p in rules.upset) or any(
            p.search(message) for p in rules.upset_cs
        )
    return False


def is_pleased(s: Signals) -> bool:
    return s.sentiment >= 0.4 or s.emotions.get("gratitude", 0.0) >= 0.5


def coach(
    draft: str,
    situation: Situation | None = None,
    *,
    now: datetime | None = None,
    signals: Signals | None = None,
    tz: str | None = None,
    calendar: BusinessCalendar = DEFAULT_CALENDAR,
    rules: CoachRules | None = None,
    moves: MoveDetector | None = None,
) -> Critique:
    """Critique one agent draft. Pure: the same draft and situation give the same Critique.

    The Situation gives the customer's message the draft answers (``situation.message``), the
    customer's name and what the agent may grant alone (``situation.agent.authority``: refunds
    and credits above it are findings; a limit not known (None) is not checked); without one,
    the draft is read alone. ``signals``: the customer message's Signals when already computed
    (else the fast analyzer reads the message). ``now``, ``tz`` (IANA, default UTC) and
    ``calendar`` resolve the promises' deadlines; an unknown zone or a bad calendar raises
    ``InvalidCoachContext``. ``moves`` (``guidance.moves.load_detector()``) also reads empathy,
    solutions and next steps written in words the rules do not know."""
    if not isinstance(draft, str) or not draft.strip():
        raise EmptyText("draft is empty or only whitespace")
    if tz is not None:
        zone(tz)  # raises InvalidCoachContext for an unknown zone
    if not isinstance(calendar, BusinessCalendar):
        raise InvalidCoachContext("calendar: expected a BusinessCalendar")
    ctx = _Context.of(situation, signals)
    rules = rules or CoachRules.default()
    low = _norm(clean(draft))  # URLs and tags blanked, offsets kept
    hits = rules.scan(low, set(tokens(draft, low)))
    times = find_times(draft, low)
    raw_low = _norm(draft)
    has = {
        "empathy": "empathy" in hits,
        "apology": "apology" in hits,
        "ownership": _OWNERSHIP.search(raw_low) is not None,
        "solution": "solution" in hits or "http" in raw_low or "www." in raw_low,
        "next_step": "next_step" in hits or "promise" in hits,
        "timeline": bool(times),
    }
    if moves is not None:
        seen = moves.present(draft)
        for m in MOVES:
            has[m] = has[m] or seen[m]
    findings: list[Finding] = []

    def add(kind: str, start: int, end: int, suggestion: str, message: str = "") -> None:
        msg = message or MESSAGES.get(kind) or rules.groups[kind].message
        findings.append(Finding(kind, start, end, draft[start:end], msg, suggestion))

    for kind in (*PHRASE_KINDS, "vague_promise"):
        for h in hits.get(kind, []):
            if h.rule.when == "no_timeline" and has["timeline"]:
                continue
            add(kind, h.start, h.end, h.rule.suggestion or "(leave this out)")
    for s, e in _caps_runs(draft, rules):
        add("all_caps", s, e, _sentence_case(draft[s:e]))
    apologies = hits.get("apology", [])
    if len(apologies) >= 3:
        third = apologies[2]
        add(
            "over_apology",
            third.start,
            third.end,
            "(remove: one sincere apology is enough; use the space for the fix)",
            f"{len(apologies)} apologies in one reply sound scripted and delay the answer.",
        )
    findings.extend(_over_authority(draft, raw_low, ctx))
    findings.extend(_missing(draft, low, hits, has, findings, ctx, rules))
    findings.sort(key=lambda f: (f.start, f.kind))
    commitments = extract_commitments(draft, now=now, tz=tz, calendar=calendar, low=raw_low)
    return Critique(
        score=_score(findings, rules),
        politeness=_politeness(hits, has, findings),
        has=has,
        findings=tuple(findings),
        commitments=tuple(commitments),
        version=rules.version,
        rewrite=_rewrite(draft, 0, len(draft), findings),
    )


# an excuse that recites a policy ("that's our policy", "per company policy", "it's the rules")
_RECITES_POLICY = re.compile(r"\b(?:polic(?:y|ies)|rules?|terms)\b")


def wants_plain_wording(f: Finding) -> bool:
    """Jargon, or a policy recited instead of explained: findings an article's plain wording
    answers better than any phrase ("the refund window is 30 days because …")."""
    return f.kind == "jargon" or (
        f.kind == "excuse" and _RECITES_POLICY.search(f.text.lower()) is not None
    )


def cite_articles(critique: Critique, articles: Sequence[ArticleRef]) -> Critique:
    """``critique`` with the best article (``articles[0]``) on each jargon or policy-recital
    finding, so the agent can explain the rule in the article's words. Pure: the articles come
    from the knowledge base through the service; the score and the rewrite are unchanged."""
    if not articles or not any(wants_plain_wording(f) for f in critique.findings):
        return critique
    best = articles[0]
    findings = tuple(
        replace(f, article=best) if wants_plain_wording(f) else f for f in critique.findings
    )
    return replace(critique, findings=findings)


def _replacement(f: Finding) -> str:
    """What a finding's span becomes in a rewrite: its suggestion, or nothing for a
    "(remove …)" / "(leave this out)" suggestion."""
    return "" if f.suggestion.startswith("(") else f.suggestion


def _rewrite(draft: str, start: int, end: int, findings: Sequence[Finding]) -> str:
    """``draft[start:end]`` with the findings inside it replaced (the widest first where two
    overlap), so a rewrite never keeps the words it criticises."""
    chosen: list[Finding] = []
    for f in sorted(findings, key=lambda f: (f.start - f.end, f.start)):
        inside = start <= f.start and f.end <= end and f.end > f.start
        if inside and not any(c.start < f.end and f.start < c.end for c in chosen):
            chosen.append(f)
    out, pos = [], start
    for f in sorted(chosen, key=lambda f: f.start):
        out.append(draft[pos : f.start])
        out.append(_replacement(f))
        pos = f.end
    out.append(draft[pos:end])
    text = re.sub(r"[ \t]{2,}", " ", "".join(out))
    return re.sub(r"\s+([.,!?])", r"\1", text).strip()


def _amount(money: str) -> float:
    """The number in a money phrase, thousands separators read either way: "£1,200.50",
    "€1.200,50", "€1.000" (a thousand), "1 200 euros"."""
    num = re.sub(r"[^\d.,]", "", money)
    if re.fullmatch(r"\d{1,3}(?:\.\d{3})+(?:,\d{1,2})?|\d+,\d{1,2}", num):
        num = num.replace(".", "").replace(",", ".")  # 1.200,50 and 12,50: European
    else:
        num = num.replace(",", "")
    try:
        return float(num)
    except ValueError:
        return 0.0


def _sentence_at(draft: str, pos: int) -> tuple[int, int]:
    for m in _SENTENCE.finditer(draft):
        if m.start() <= pos < m.end():
            return m.start(), m.end()
    return 0, len(draft)


def _over_authority(draft: str, low: str, ctx: _Context) -> list[Finding]:
    """Refunds or credits promised above what the agent may grant alone."""
    out: list[Finding] = []
    for kind, pat in _AMOUNTS.items():
        limit = ctx.limits.get(kind)
        if limit is None:
            continue
        for m in pat.finditer(low):
            g = 1 if m.group(1) else 2
            amount = _amount(m.group(g))
            if amount > limit:
                s, e = _trim(draft, *_sentence_at(draft, m.start(g)))
                out.append(
                    Finding(
                        "over_authority",
                        s,
                        e,
                        draft[s:e],
                        f"This promises a {kind} of {m.group(g)}, above your {kind} limit of "
                        f"{limit:.2f}: ask for approval before you promise it.",
                        f"I've asked for approval of a {kind} of {draft[m.start(g) : m.end(g)]} "
                        "and I'll confirm it as soon as it's through.",
                    )
                )
                break
    return out


def _missing(
    draft: str,
    low: str,
    hits: dict[str, list[Hit]],
    has: dict[str, bool],
    found: list[Finding],
    ctx: _Context,
    rules: CoachRules,
) -> list[Finding]:
    """Findings about what the draft lacks: empathy, a next step, a time for a promise."""
    out: list[Finding] = []
    kinds = {f.kind for f in found}
    sentences = [
        (m.start(), m.end())
        for m in _SENTENCE.finditer(draft)
        if draft[m.start() : m.end()].strip()
    ]
    first_s, first_e = _trim(draft, *sentences[0])
    last_s, last_e = _trim(draft, *sentences[-1])
    name = f", {ctx.name}" if ctx.name else ""
    sig = ctx.signals
    upset = is_upset(sig, ctx.message, rules)
    if upset and not (has["empathy"] or has["apology"]):
        opener = draft[first_s:first_e]
        kept = _rewrite(draft, first_s, first_e, found)
        out.append(
            Finding(
                "no_empathy",
                first_s,
                first_e,
                opener,
                MESSAGES["no_empathy"],
                f"I'm sorry about this{name}, and I understand why you're frustrated. {kept}",
            )
        )
    promises = [
        h
        for h in hits.get("promise", [])
        if not _IMMEDIATE.search(low, *_sentence_of(sentences, h.start))
    ]
    if promises and not has["timeline"] and "vague_promise" not in kinds:
        p = promises[0]
        ps, pe = _trim(draft, *_sentence_of(sentences, p.start))
        sentence = _rewrite(draft, ps, pe, found).rstrip(".!")
        out.append(
            Finding(
                "no_timeline",
                ps,
                pe,
                draft[ps:pe],
                MESSAGES["no_timeline"],
                f"{sentence} by 5pm tomorrow.",
            )
        )
    pleased = sig is not None and is_pleased(sig)
    if not (
        has["solution"]
        or has["next_step"]
        or has["timeline"]
        or "answer" in hits
        or any(c.isdigit() for c in low)
        or "closing" in hits
        or pleased
        or kinds & {"vague_promise", "no_timeline"}
    ):
        closing = draft[last_s:last_e]
        kept = _rewrite(draft, last_s, last_e, found)
        out.append(
            Finding(
                "no_next_step",
                last_s,
                last_e,
                closing,
                MESSAGES["no_next_step"],
                f"{kept} Next, I'll [action] and update you by [time].",
            )
        )
    return out


def _sentence_of(sentences: list[tuple[int, int]], pos: int) -> tuple[int, int]:
    for s, e in sentences:
        if s <= pos < e:
            return s, e
    return sentences[-1]


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _caps_runs(draft: str, rules: CoachRules) -> list[tuple[int, int]]:
    """Shouting: 3+ capitalised words in a row, 2 with 7+ letters, or an emphasis word."""
    if sum(c.isupper() for c in draft) < 2:
        return []
    text = clean(draft)
    words = [
        m
        for m in _CAPS_WORD.finditer(text)
        if m.group().replace("’", "'") not in rules.caps_allow
        and not (m.start() > 0 and (text[m.start() - 1].isalnum() or text[m.start() - 1] == "@"))
        and not (m.end() < len(text) and text[m.end()].isalnum())
    ]
    runs: list[list[re.Match[str]]] = []
    for m in words:
        gap = text[runs[-1][-1].end() : m.start()] if runs else "x"
        if runs and not any(c.isalpha() for c in gap) and len(gap) <= 3:
            runs[-1].append(m)
        else:
            runs.append([m])
    out = []
    for run in runs:
        letters = sum(len(m.group()) for m in run)
        emphatic = any(m.group().replace("’", "'") in rules.caps_emphasis for m in run)
        if len(run) >= 3 or (len(run) == 2 and letters >= 7) or emphatic:
            out.append((run[0].start(), run[-1].end()))
    return out


def _sentence_case(s: str) -> str:
    low = s.lower()
    return low[:1].upper() + low[1:] if s[:1].isupper() and len(s.split()) > 2 else low


def _score(findings: list[Finding], rules: CoachRules) -> int:
    counts: dict[str, int] = {}
    for f in findings:
        counts[f.kind] = counts.get(f.kind, 0) + 1
    penalty = sum(rules.weights.get(k, 10) * min(n, rules.max_count) for k, n in counts.items())
    return max(0, 100 - penalty)


_RUDE = frozenset({"blame", "dismissive", "sarcasm", "all_caps", "excuse"})


def _politeness(hits: dict[str, list[Hit]], has: dict[str, bool], findings: list[Finding]) -> float:
    markers = min(len(hits.get("polite", [])), 3)
    rude = sum(1 for f in findings if f.kind in _RUDE)
    value = 0.6 + 0.1 * markers + 0.1 * (has["empathy"] or has["apology"]) - 0.2 * rude
    return round(min(1.0, max(0.0, value)), 2)
