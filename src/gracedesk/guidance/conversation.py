"""The conversation so far as turns, and what the agent has already done in each turn.

The turns are the Situation's (``situation.turns``, parsed once at the edge); this module only
annotates them: each gets its index, and agent turns are read for *moves* (the playbook's stages
the agent has covered): an acknowledgement, a clarifying question, an offer, a committed time...
The patterns are small and explicit so that a reason can quote them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from gracedesk.errors import InvalidScenario
from gracedesk.model.memo import per_text
from gracedesk.model.situation import Situation

_I = re.IGNORECASE
# Agent moves: stage (or "boundary") -> the wording that shows the agent did it.
MOVES: dict[str, re.Pattern[str]] = {
    "boundary": re.compile(
        r"\b(?:i(?:'m| am) (?:not able|unable) to continue if|please keep (?:this|our conversation)"
        r"|i won'?t accept (?:abuse|insults|language)|(?:language|insults|abuse) like that"
        r"|(?:keep|stay) (?:it )?(?:respectful|civil)|i(?:'ll| will) have to end (?:this|the) "
        r"(?:chat|call|conversation)|without (?:the )?(?:insults|swearing|personal attacks))",
        _I,
    ),
    "listen": re.compile(
        r"\b(?:tell me (?:more|everything|what happened)|i'?m listening|take your time"
        r"|walk me through|go on|i want to (?:hear|understand) (?:the whole|everything|what))",
        _I,
    ),
    "acknowledge": re.compile(
        r"\b(?:sorry|apologi[sz]e|apologies|i (?:completely |totally |really )?understand"
        r"|i can (?:see|imagine|hear|understand)|i hear you|(?:that|this) (?:must|sounds)"
        r"|(?:that'?s|this is) (?:really |so |very )?(?:frustrating|upsetting|annoying|stressful)"
        r"|you(?:'re| are) right to be|understandabl[ey]|thank you for (?:your patience|bearing)"
        r"|i appreciate (?:you|your))",
        _I,
    ),
    "clarify": re.compile(
        r"(?:\b(?:could|can|would) you (?:please )?(?:confirm|tell me|share|send|clarify|explain"
        r"|let me know)|\bwhich (?:order|item|account|one|date)|\bwhat (?:exactly|happened|did)"
        r"|\bwhen did\b|\bdo you mean\b|\bjust to (?:make sure|confirm|check)|\bso if i understand"
        r"|\bto make sure i understand|\bhere(?:'s| is) what happens(?: next)?|\bstep \d|\bfirst,)",
        _I,
    ),
    "common_ground": re.compile(
        r"\b(?:we both want|i want the same|we(?:'re| are) on the same (?:side|page)"
        r"|you(?:'re| are) (?:right|absolutely right)|(?:that'?s|a) fair point|i agree"
        r"|you deserve|that'?s (?:a )?reasonable|let'?s (?:work|sort|fix|figure) (?:this|it) out"
        r"|together)\b",
        _I,
    ),
    "offer": re.compile(
        r"\b(?:i can (?:offer|refund|replace|send|credit|arrange|waive|extend|issue|give)"
        r"|i(?:'ve| have) (?:refunded|issued|arranged|credited|sent|waived|extended|booked)"
        r"|we can (?:offer|refund|replace|send|credit|arrange)|(?:two|some|a few) options"
        r"|option (?:a|one|1)|would you (?:like|prefer)|(?:a|full|partial) refund|replacement"
        r"|(?:store |account )?credit of|discount)\b",
        _I,
    ),
    "commit": re.compile(
        r"\b(?:by (?:(?:the )?end of (?:the )?(?:day|today|week)|tomorrow|tonight|monday|tuesday"
        r"|wednesday|thursday|friday|saturday|sunday|\d{1,2}(?::\d\d)?\s?(?:am|pm)?|noon)"
        r"|within (?:the next )?\d+\s?(?:hours?|days?|minutes?|h|business days?)"
        r"|i(?:'ll| will) (?:call|email|update|contact|follow up|get back|check in|message|text)"
        r"[^.?!]{0,40}\b(?:by|within|before|at|tomorrow|today|on \w+day))",
        _I,
    ),
    "close": re.compile(
        r"\b(?:anything else i can (?:help|do)|is there anything else|glad (?:i|we) could help"
        r"|have a (?:great|good|nice|lovely) (?:day|evening|weekend)|thanks? (?:you )?for your "
        r"patience today|take care)\b",
        _I,
    ),
}
# A customer's short answer to an offer.
ACCEPT = re.compile(
    r"\b(?:ok(?:ay)?|that works|sounds (?:good|great|fine)|yes,? please|fine|deal|perfect"
    r"|great|thank(?:s| you)|i(?:'ll| will) take|let'?s do (?:that|it)|go ahead|agreed)\b",
    _I,
)
REJECT = re.compile(
    r"\b(?:not (?:good )?enough|no way|that'?s not (?:acceptable|good|what)|unacceptable"
    r"|ridiculous|joke|insulting|not interested|no thanks|i don'?t want (?:that|a|your))\b",
    _I,
)

# The customer says the issue is solved ("that solved it", "works now", "all good now"). A
# clause counts only when it is not a question and has no negation or condition in it.
RESOLVED = re.compile(
    r"\b(?:solved|fixed|resolved|sorted(?: out)?|works? (?:now|again|fine now|perfectly now)"
    r"|working (?:now|again|fine now)|all (?:good|sorted|fixed)(?: now)?|that did (?:it|the trick)"
    r"|problem (?:gone|solved))\b",
    _I,
)
_NOT_RESOLVED = re.compile(
    r"(?:\b(?:not|never|no longer|still|yet|if|when|until|unless|would|will|should|supposed"
    r"|hope|hoping|need|needs|want|please|but|however|except|though|although)\b|n['\u2019]t\b)",
    _I,
)
_CLAUSE = re.compile(r"[^.!?;]+[.!?;]*")
# A bare nudge: the customer is waiting for a reply ("hello?", "anyone?", "??").
NUDGE = re.compile(
    r"^(?:[\s?!.,]*(?:hello+|hel+o+|hi|hey|anyone|anybody|any ?one there|any ?body there"
    r"|(?:is )?any(?:one|body) (?:there|here|around)|are you (?:still )?there|still there"
    r"|you there|any (?:update|news|reply|answer)s?|still waiting|waiting|ping|yo)\b)+[\s?!.,]*$"
    r"|^[\s?!.]*\?[\s?!.]*$",
    _I,
)
# The customer says a cancellation has already happened ("I cancelled my subscription last
# month", "it was already cancelled", "gone through the process of cancelling").
ALREADY_CANCELLED = re.compile(
    r"\b(?:already cancel+ed|i(?: have|['\u2019]ve| had|['\u2019]d)?(?: already)? cancel+ed"
    r"|(?:was|were|has been|have been|had been|got|is|['\u2019]s) (?:already )?cancel+ed"
    r"|(?:went|gone|been) through [^.!?]{0,40}?\bcancel+(?:ing|ation))\b",
    _I,
)


@dataclass(frozen=True, slots=True)
class Turn:
    """One turn of the Situation, with its index and the moves found in it (agent turns only)."""

    index: int
    role: str
    text: str
    at: datetime | None
    moves: frozenset[str]

    def label(self) -> str:
        return f"turn {self.index + 1} ({self.role})"


@per_text
def moves_of(text: str) -> frozenset[str]:
    """The playbook moves an agent message makes (a question mark alone counts as clarify)."""
    found = {name for name, pat in MOVES.items() if pat.search(text)}
    if "?" in text and "offer" not in found and "close" not in found:
        found.add("clarify")
    return frozenset(found)


_NO_MOVES: frozenset[str] = frozenset()  # a customer turn's


def turns(situation: Situation) -> list[Turn]:
    """The Situation's turns, each with its index and (agent turns) its moves."""
    out = [
        Turn(i, t.role, t.text, t.at, moves_of(t.text) if t.role == "agent" else _NO_MOVES)
        for i, t in enumerate(situation.turns)
    ]
    if not any(t.role == "customer" and t.text.strip() for t in out):
        raise InvalidScenario("conversation has no customer message with text")
    return out


def last_customer(ts: list[Turn]) -> Turn:
    return next(t for t in reversed(ts) if t.role == "customer" and t.text.strip())


def resolved_words(text: str) -> str | None:
    """The words saying the issue is solved ("that solved it"), or ``None``.

    A question ("is it fixed?") or a clause with a negation or a condition ("still not fixed",
    "it should work now") does not count.
    """
    for m in _CLAUSE.finditer(text):
        clause = m.group(0)
        hit = RESOLVED.search(clause)
        if hit and "?" not in clause and not _NOT_RESOLVED.search(clause):
            return clause.strip(" .!;")
    return None


def is_nudge(text: str) -> bool:
    """A bare nudge that only asks for a reply: "hello?", "anyone?", "??"."""
    return bool(text.strip()) and NUDGE.match(text.strip()) is not None


@per_text
def _says_cancelled(text: str) -> bool:
    # a conversation's earlier turns come back at every new message: read each text once
    return ALREADY_CANCELLED.search(text) is not None


def already_cancelled(ts: list[Turn]) -> Turn | None:
    """The latest customer turn saying a cancellation already happened, or ``None``."""
    for t in reversed(ts):
        if t.role == "customer" and _says_cancelled(t.text):
            return t
    return None


def waiting(ts: list[Turn]) -> Turn | None:
    """The latest customer turn when it is a bare nudge after an earlier customer message."""
    last = last_customer(ts)
    earlier = any(t.role == "customer" and t.text.strip() for t in ts[: last.index])
    return last if earlier and is_nudge(last.text) else None
