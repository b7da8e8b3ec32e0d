"""Reading a trainee's reply: which moves it makes, good and bad, with the words that show it.

Three readers, each doing what it is good at: the draft coach (``guidance.coach``) for phrase
findings (excuses, blame, jargon, "calm down", vague promises, promises over authority) and
for empathy, ownership, next steps and timelines; the fast analyzer on the trainee's own text
for hostility; and the scenario for what only it knows (does the reply offer something in
``resolution``, use the facts, ask a clarifying question, set a boundary after abuse).

The coach is given no customer message on purpose: whether the customer is upset comes from
the simulated state, so a session's states do not depend on the wording of the customer's
lines (an LLM may write them) and a replay gives the same states.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from gracedesk.analysis.pipeline import Analyzer
from gracedesk.guidance.coach import authority_from_limits, coach
from gracedesk.model.critique import Critique
from gracedesk.model.situation import AgentProfile, Situation
from gracedesk.training.scenario import Scenario

GOOD: tuple[str, ...] = (
    "empathy",
    "ownership",
    "solution",
    "offer",
    "timeline",
    "next_step",
    "facts",
    "clarifying",
    "summary",
    "boundary",
    "escalation_offer",
)
BAD: tuple[str, ...] = (
    "excuse",
    "blame",
    "jargon",
    "dismissive",
    "policy_recital",
    "vague_promise",
    "no_timeline",
    "over_authority",
    "sarcasm",
    "all_caps",
    "negative_phrasing",
    "refusal",
    "canned",
    "hostile",
    "no_empathy",
    "ignored",
    "unneeded_boundary",
    "missed_boundary",
)
MESSAGES: dict[str, str] = {
    "empathy": "acknowledged how the customer feels",
    "ownership": "took ownership (I will …)",
    "solution": "offered what would resolve it",
    "offer": "offered a way forward, though not what this customer needs",
    "timeline": "gave a time",
    "next_step": "said what happens next",
    "facts": "used the facts of the case",
    "clarifying": "asked a clarifying question",
    "summary": "summarised or confirmed what the customer wants",
    "boundary": "set a calm boundary after abuse",
    "escalation_offer": "offered to involve a supervisor when asked",
    "excuse": "made an excuse",
    "blame": "blamed the customer",
    "jargon": "used internal jargon",
    "dismissive": "was dismissive",
    "policy_recital": "recited policy without an alternative",
    "vague_promise": "made a vague promise",
    "no_timeline": "promised without a time",
    "over_authority": "promised more than policy allows",
    "sarcasm": "was sarcastic",
    "all_caps": "shouted in capitals",
    "negative_phrasing": "led with what can't be done",
    "refusal": "refused without an alternative",
    "canned": "answered with a stock phrase and nothing else",
    "hostile": "was hostile to the customer",
    "no_empathy": "ignored how upset the customer is",
    "ignored": "did not answer or move the case forward",
    "unneeded_boundary": "warned a customer who was not abusive",
    "missed_boundary": "let abuse pass without a boundary",
}
_COACH_KINDS = {
    "excuse": "excuse",
    "blame": "blame",
    "jargon": "jargon",
    "dismissive": "dismissive",
    "vague_promise": "vague_promise",
    "no_timeline": "no_timeline",
    "over_authority": "over_authority",
    "sarcasm": "sarcasm",
    "all_caps": "all_caps",
    "negative_phrasing": "negative_phrasing",
}
_ACK = re.compile(
    r"\b(?:i (?:completely |totally |really |do )?(?:hear|understand|see|get|realise|realize|"
    r"appreciate)(?: that| how| why| what| you)\b|that must (?:be|have been|feel)|i can "
    r"(?:see|imagine|hear|understand)|you(?:'re| are) (?:right|upset|frustrated|angry|exhausted|"
    r"tired|stressed|worried|fed up|disappointed|annoyed)|i know (?:you'?re|you are|this|how)|"
    r"(?:you'?ve|you have) (?:been|had|waited)|i'?m (?:so |really |very |truly )?sorry|"
    r"i apologi[sz]e|my apologies|that(?:'s| is) (?:not ok|not acceptable|unacceptable|"
    r"frustrating|awful|not good enough)|(?:thank you|thanks) for (?:your patience|"
    r"(?:telling|explaining|bearing))|no wonder you)"
)
_RECITAL = re.compile(
    r"\b(?:our policy|company policy|(?:the|this) policy (?:is|states|says)|polic(?:y|ies) "
    r"(?:states?|says?|is that|do(?:es)? not)|per (?:our|the) (?:policy|terms)|as per (?:our|the)"
    r"|according to (?:our|the) (?:policy|terms|rules)|terms and conditions|t ?& ?cs?\b|"
    r"(?:it'?s|it is) (?:company )?policy|rules are rules|i (?:don'?t|do not) make the rules)"
)
_SUMMARY = re.compile(
    r"\b(?:so,? to (?:confirm|recap|summari[sz]e|be clear)|just to (?:confirm|recap|be (?:sure|"
    r"clear)|make sure|check)|to summari[sz]e|in short|if i(?:'ve)? understand(?: you)?(?: "
    r"correctly)?|let me (?:recap|summari[sz]e|make sure i|check i|confirm)|so what you(?:'d| "
    r"would)? (?:want|need|like)|you(?:'d| would) (?:like|prefer)|here'?s (?:the plan|what "
    r"(?:we|i)(?:'ll| will) do)|to confirm|(?:send|email|e-mail|write) you a summary|(?:put|have) "
    r"(?:it|this|that|all of this|everything) in writing)"
)
_QUESTION = re.compile(r"[^.!?\n]*\?")
_ASKS = re.compile(
    r"\b(?:could|can|would|will) you\b|\bwhich\b|\bwhat\b|\bwhen\b|\bwhere\b|\bhow\b|\bdo you\b|"
    r"\bdid you\b|\bis (?:it|that|this)\b|\bare you\b|\bhave you\b|\bshould i\b|\bwould you "
    r"prefer\b|\bor\b"
)
_RHETORIC = re.compile(r"\b(?:did you (?:even|not)|can'?t you|don'?t you|why would you|seriously)")
_BOUNDARY = re.compile(
    r"(?:keep (?:this|it|our conversation|the conversation|things) (?:respectful|civil|calm|"
    r"polite)|(?:can'?t|cannot|won'?t|will not|unable to|not able to) (?:continue|carry on|keep "
    r"(?:helping|going)|help(?: you)?)[^.!?]{0,60}\b(?:if|while|when|with)\b[^.!?]{0,60}"
    r"(?:insult|language|swear|abus|shout|threat|name|rude)|(?:no|without|leave out the|stop the"
    r"|drop the) (?:insults|name-calling|name calling|swearing|abuse|abusive language|personal "
    r"attacks|threats)|won'?t (?:accept|tolerate) (?:abuse|insults|being|that language)|"
    r"(?:language|words) like that|let'?s (?:keep|stay) (?:it |things )?(?:respectful|civil|calm"
    r"|focused|polite)|(?:please|kindly) (?:don'?t|do not) (?:swear|insult|call me|shout)|"
    r"(?:treat|speak to|talk to) (?:me|each other|us) (?:with respect|respectfully))"
)
_SUPERVISOR = re.compile(
    r"\b(?:i(?:'ll| will| can| could)|let me|happy to|i'?m (?:going to|happy to))\b[^.!?]{0,40}"
    r"\b(?:supervisor|manager|team lead|team leader|senior)"
)
_NEGATION = re.compile(
    r"\b(?:can'?t|cannot|won'?t|will not|not|no|unable|don'?t|isn'?t|impossible|nothing|never|"
    r"without)\b"
)
_LIMIT = re.compile(
    r"\b(refund|credit|voucher|compensation|goodwill|discount)\w*\b[^.;]{0,30}?\b(?:up to|above|over|beyond|more than)\s*"
    r"([£$€]?\s?\d+(?:[.,]\d+)?)"
)
_DISOWN = re.compile(r"\b(?:not|isn'?t|wasn'?t|no) (?:our|my) (?:fault|mistake|error|problem)")
_NOT_BLAME = re.compile(r"you should(?:'ve| have) (?:had|received|got|gotten|been)")
_BLAME = re.compile(
    r"\b(?:(?:problem|issue|fault|error)s? (?:is |are |was |lies )?(?:on|at) (?:the |your )?"
    r"(?:customer'?s?|user'?s?|your) (?:side|end)|on the customer'?s (?:side|end)|most problems are"
    r"|user error|you must have|you (?:need|have) to (?:read|check) (?:more )?carefully|you "
    r"(?:didn'?t|did not|failed to|forgot to) (?:read|check|follow|select|enter|tick)|if you had)"
)
_OWN_MORE = re.compile(
    r"\b(?:i(?:'m| am) (?:staying|here with you|with you|on it|looking (?:at|into) (?:it|this|"
    r"your) (?:right )?now)|i(?:'ll| will) (?:stay|keep (?:this|your case)|handle|take care)|"
    r"(?:that'?s|this is|it'?s) on (?:us|me)|(?:our|my) (?:mistake|fault|error)|we (?:got|made) "
    r"(?:it wrong|a mistake)|and i will\b|i(?:'m| am) the person who|i(?:'ve| have) (?:opened|"
    r"booked|arranged|logged|raised|added|attached|escalated|set up|scheduled|asked|requested|"
    r"ordered|processed|issued|sent|started|approved|cancelled|refunded|credited)|i(?:'m| am) "
    r"(?:sending|booking|arranging|opening|processing|issuing|refunding|calling|ordering|"
    r"escalating|raising|adding|cancelling|crediting)|we (?:got|made) "
    r"(?:it|this|a mistake)|we let you down)"
)
_HOLD = re.compile(
    r"\b(?:one moment|bear with me|let me (?:check|look|see|find|pull up)|i(?:'m| am) (?:checking|"
    r"looking (?:into|at)|pulling up))\b"
)
_BUCK = re.compile(
    r"\b(?:(?:team|department|they)(?:'re| are| is) (?:very |really |extremely |just )?(?:busy|"
    r"swamped|understaffed)|you'?ll (?:have|need) to (?:wait|speak|take it up|contact|find|call)|"
    r"you(?:'d| would) (?:need|have) to take (?:it|this) up|(?:that'?s|it'?s|this is) (?:a|the) "
    r"(?:\w+ )?(?:issue|problem|matter) (?:for|of) (?:the )?\w+|sounds like a \w+ (?:issue|"
    r"problem)|(?:is|are) the (?:\w+'s )?responsibility|before i can do anything|nothing (?:more|"
    r"else) (?:i|we) can do|nothing more to do)"
)
_CANNED = re.compile(
    r"\b(?:sorry to hear (?:that|this)|(?:sorry|apologi[sz]e) for any inconvenience|inconvenience "
    r"(?:this|that) (?:may have|has|might have) caused|we value your (?:feedback|business)|"
    r"hopefully (?:the|your) next|(?:i'?ve|we'?ve|i have|we have) noted your (?:feedback|"
    r"comments?|concerns?)|thanks? (?:you )?for (?:your|the) feedback|passed (?:your|this|the) "
    r"(?:feedback|comments?) on)\b"
)
_SENT_REFUSAL = re.compile(
    r"\b(?:can'?t|cannot|unable to|not able to|won'?t be able to|not possible to)\s+(?:\w+\s+)?"
    r"(?:offer|give|do|provide|refund|help|issue|make|grant|change|arrange)"
)
_ACRONYM = re.compile(r"\b[A-Z]{2,5}s?\b")
PLAIN_ACRONYMS = frozenset(
    "OK EUR USD GBP UK US USA EU PM AM ID PIN SMS TV FAQ PDF ASAP IT CEO VIP CC I".split()
)
_CLAUSE = re.compile(r",|;|:|\bbut\b|\band\b|\bso\b")
_GUARANTEE = re.compile(r"\b(?:i|we) (?:guarantee|promise (?:you )?(?:it|that|this) will)\b")
_NO_GUARANTEE = re.compile(r"\b(?:can(?:no|')t|cannot|not|no|never) (?:be )?guarantee")


def limits_from_notes(notes: str) -> dict[str, float]:
    """What the trainee may grant alone, read from the scenario's ``policy_notes``
    ("Agents may refund up to 100 EUR" -> ``{"refund": 100.0}``); vouchers, goodwill,
    compensation and discounts count as credit (the coach knows refund and credit)."""
    out: dict[str, float] = {}
    for m in _LIMIT.finditer(notes.lower()):
        kind = "refund" if m.group(1) == "refund" else "credit"
        num = re.sub(r"[^\d.,]", "", m.group(2)).replace(",", ".")
        try:
            out.setdefault(kind, float(num))
        except ValueError:
            continue
    return out


@dataclass(frozen=True, slots=True)
class Context:
    """What the reader needs to know about the conversation so far (from the state)."""

    upset: bool = True  # the customer is visibly upset (anger at or above 0.45)
    abusive: bool = False  # the customer's last line was abusive
    demand: str | None = None  # the customer has just asked for a manager / to go public


@dataclass(frozen=True, slots=True)
class Reading:
    """The moves of one trainee turn: ``moves`` maps each move to the words that show it."""

    text: str
    moves: Mapping[str, str]
    critique: Critique
    hostility: float = 0.0
    suggestions: Mapping[str, str] = field(default_factory=dict)  # move -> coach's rewrite

    def has(self, move: str) -> bool:
        return move in self.moves

    @property
    def good(self) -> tuple[str, ...]:
        return tuple(m for m in GOOD if m in self.moves)

    @property
    def bad(self) -> tuple[str, ...]:
        return tuple(m for m in BAD if m in self.moves)


def _sentence(low: str, pos: int) -> tuple[int, int]:
    start = max(low.rfind(c, 0, pos) for c in ".!?\n") + 1
    ends = [i for i in (low.find(c, pos) for c in ".!?\n") if i >= 0]
    return start, (min(ends) + 1 if ends else len(low))


def _negated(low: str, m: re.Match[str]) -> bool:
    """The match is refused, not offered: a negation in its own clause before it, or a
    sentence that says it cannot be done or only recites policy."""
    start, end = _sentence(low, m.start())
    before = low[max(start, m.start() - 40) : m.start()]
    clauses = list(_CLAUSE.finditer(before))
    if clauses:
        before = before[clauses[-1].end() :]
    sentence = low[start:end]
    return bool(
        _NEGATION.search(before) or _SENT_REFUSAL.search(sentence) or _RECITAL.search(sentence)
    )


def _pattern(phrase: str) -> str:
    words = [re.escape(w) for w in phrase.lower().split()]
    return r"\b" + r"\s+".join(words) + r"(?:s|es|ed|d|ing)?\b"


def _phrase_match(phrase: str, low: str) -> re.Match[str] | None:
    for m in re.finditer(_pattern(phrase), low):
        if not _negated(low, m):
            return m
    return None


def _refused(phrases: tuple[str, ...], low: str) -> str | None:
    for phrase in phrases:
        for m in re.finditer(_pattern(phrase), low):
            if _negated(low, m):
                start, end = _sentence(low, m.start())
                return low[start:end].strip()
    return None


def _jargon(text: str, scenario: Scenario) -> str | None:
    """An acronym the customer has not used and nobody outside the company knows."""
    known = " ".join(
        [scenario.opening, scenario.title, scenario.wants, *scenario.facts.values()]
        + [ln.text for ln in scenario.lines]
    )
    for m in _ACRONYM.finditer(text):
        word = m.group(0).rstrip("s") if len(m.group(0)) > 2 else m.group(0)
        if word not in PLAIN_ACRONYMS and word not in known and not text.isupper():
            return m.group(0)
    return None


def _facts_used(facts: Mapping[str, str], low: str) -> str | None:
    for value in facts.values():
        v = value.lower().strip()
        if len(v) >= 3 and v in low:
            return value
        tok: str
        for tok in re.findall(r"[\w-]*\d[\w-]*", v):
            if len(tok) >= 3 and re.search(rf"(?<![\w-]){re.escape(tok)}(?![\w-])", low):
                return tok
    return None


def read_reply(text: str, scenario: Scenario, context: Context, *, analyzer: Analyzer) -> Reading:
    """The moves of ``text`` as a reply in ``scenario``. Pure for a given analyzer."""
    limits = limits_from_notes(scenario.policy_notes)
    critique = coach(
        text, Situation((), agent=AgentProfile(authority=authority_from_limits(limits)))
    )
    low = text.lower().replace("’", "'")
    # The order moves are found in is the order the state reads them (training.state).
    moves, suggestions = _coach_moves(critique, low)
    moves |= _phrase_faults(text, low, scenario, moves)
    moves |= _rapport_moves(critique, low)
    moves |= _solution_moves(critique, low, scenario, moves)
    moves |= _conversation_moves(low, context)
    moves |= _refusal_moves(low, scenario, moves)
    sig = analyzer.analyze(text)
    directed = max(sig.abuse.get(k, 0.0) for k in ("insult", "threat", "harassment"))
    hostility = max(directed, sig.abuse.get("profanity", 0.0) * 0.8, sig.emotions["anger"] - 0.2)
    if hostility >= 0.5:
        moves["hostile"] = next((e.text for e in sig.evidence if e.signal.startswith("abuse")), "")
    return Reading(
        text, _overall_moves(moves, low, context), critique, round(float(hostility), 3), suggestions
    )


def _coach_moves(critique: Critique, low: str) -> tuple[dict[str, str], dict[str, str]]:
    """The coach's phrase findings as moves (the first of each kind), with its rewrites."""
    moves: dict[str, str] = {}
    suggestions: dict[str, str] = {}
    for f in critique.findings:
        kind = _COACH_KINDS.get(f.kind)
        if kind == "blame" and _NOT_BLAME.search(low, f.start, f.end + 12):
            continue
        if kind is not None and kind not in moves:
            moves[kind] = f.text
            suggestions[kind] = f.suggestion
    return moves, suggestions


def _phrase_faults(
    text: str, low: str, scenario: Scenario, moves: Mapping[str, str]
) -> dict[str, str]:
    """Excuses, blame and jargon the coach did not find."""
    out: dict[str, str] = {}
    buck = _BUCK.search(low)
    if buck and "excuse" not in moves:
        out["excuse"] = buck.group(0)
    blame = _BLAME.search(low)
    if blame and "blame" not in moves:
        out["blame"] = blame.group(0)
    acronym = _jargon(text, scenario)
    if acronym and "jargon" not in moves:
        out["jargon"] = acronym
    return out


def _rapport_moves(critique: Critique, low: str) -> dict[str, str]:
    """Empathy and ownership."""
    out: dict[str, str] = {}
    has = critique.has
    ack = _ACK.search(low)
    if has["empathy"] or has["apology"] or ack:
        out["empathy"] = ack.group(0) if ack else "(empathy)"
    own = _OWN_MORE.search(low)
    if (has["ownership"] or own) and not _DISOWN.search(low):
        out["ownership"] = own.group(0) if own else "I will …"
    return out


def _solution_moves(
    critique: Critique, low: str, scenario: Scenario, moves: Mapping[str, str]
) -> dict[str, str]:
    """A solution from the scenario (or another offer), a timeline, a next step, the facts."""
    out: dict[str, str] = {}
    has = critique.has
    hit = next((m for p in scenario.resolution if (m := _phrase_match(p, low))), None)
    if hit is not None:
        out["solution"] = hit.group(0)
    elif has["solution"]:
        out["offer"] = "(an offer)"
    concrete = {"solution", "offer", "ownership"} & (moves.keys() | out.keys())
    if has["timeline"] and (concrete or has["next_step"]):
        out["timeline"] = critique.commitments[0].when if critique.commitments else "(a time)"
    hold = _HOLD.search(low)
    if has["next_step"] or hold:
        out["next_step"] = hold.group(0) if hold else "(next step)"
    used = _facts_used(scenario.facts, low)
    if used is not None:
        out["facts"] = used
    return out


def _conversation_moves(low: str, context: Context) -> dict[str, str]:
    """A clarifying question, a summary, a boundary (needed or not) and a supervisor offer."""
    out: dict[str, str] = {}
    questions = [q.group(0).strip() for q in _QUESTION.finditer(low)]
    asked = [q for q in questions if _ASKS.search(q) and not _RHETORIC.search(q)]
    if asked:
        out["clarifying"] = asked[0]
    summ = _SUMMARY.search(low)
    if summ:
        out["summary"] = summ.group(0)
    boundary = _BOUNDARY.search(low)
    if boundary:
        out["boundary" if context.abusive else "unneeded_boundary"] = boundary.group(0)
    elif context.abusive:
        out["missed_boundary"] = "(no boundary)"
    sup = _SUPERVISOR.search(low) if context.demand == "manager" else None
    if sup:
        out["escalation_offer"] = sup.group(0)
    return out


def _refusal_moves(low: str, scenario: Scenario, moves: Mapping[str, str]) -> dict[str, str]:
    """A policy recital or refusal instead of a solution, and a guarantee the policy forbids."""
    out: dict[str, str] = {}
    recital = _RECITAL.search(low)
    if recital and not ({"solution", "offer", "next_step"} & moves.keys()):
        out["policy_recital"] = recital.group(0)
    refused = _refused(scenario.resolution, low)
    if refused and "solution" not in moves and "offer" not in moves:
        out["refusal"] = refused
    guarantee = _GUARANTEE.search(low)
    forbidden = _NO_GUARANTEE.search(scenario.policy_notes.lower())
    if guarantee and forbidden and "over_authority" not in moves:
        out["over_authority"] = guarantee.group(0)
    return out


def _overall_moves(moves: Mapping[str, str], low: str, context: Context) -> dict[str, str]:
    """``moves`` with what the reply as a whole does: a canned formula, no acknowledgement of
    an upset customer, or nothing that moves the conversation forward."""
    out = dict(moves)
    canned = _CANNED.search(low)
    substance = {"solution", "offer", "timeline", "next_step", "clarifying", "ownership", "facts"}
    if canned and not substance & out.keys():
        out.pop("empathy", None)  # a formula, not acknowledgement
        out["canned"] = canned.group(0)
    if context.upset and "empathy" not in out:
        out["no_empathy"] = "(no acknowledgement)"
    progress = {*substance, "summary", "escalation_offer", "empathy", "boundary"}
    if not progress & out.keys():
        out["ignored"] = "(nothing moved forward)"
    return out
