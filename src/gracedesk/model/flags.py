"""Customer flags: a short, documented vocabulary plus free labels, under one spelling rule.

A flag is a lowercase slug (``vulnerable``, ``legal_hold``, ``key-account``): a letter, then
letters, digits, ``_`` or ``-``, at most ``FLAG_MAX_CHARS`` characters; a customer carries at
most ``MAX_FLAGS``. The rule lives here, below both ``policy`` (which reads ``customer.flags`` in
rules) and ``service`` (which sets them), so a flag the desk accepts is always one a policy rule
can name, and a scenario file is held to the same rule as the console.
"""

from __future__ import annotations

import re

FLAG_MAX_CHARS = 40
MAX_FLAGS = 20
FLAG = re.compile(r"[a-z][a-z0-9_-]*")

# The documented vocabulary (docs/console.md, "Flags"): offered first in the console. Any other
# slug is a free label, allowed by the same rule.
VOCABULARY: dict[str, str] = {
    "vulnerable": "in a vulnerable situation (illness, bereavement, hardship): extra care, no pressure",
    "vip": "key account or high-profile customer",
    "legal_hold": "in a legal dispute: keep every record, route legal questions to legal",
    "accessibility": "needs accessible communication (plain language, other channel, more time)",
    "fraud_risk": "suspected fraud: check identity before changing anything",
    "chargeback": "disputed a payment with their bank",
    "press": "journalist or public figure: a public complaint carries further",
}


def flag_problem(value: object) -> str | None:
    """Why ``value`` is not a valid flag, or None when it is (messages name the rule broken)."""
    if not isinstance(value, str):
        return "a flag must be a string"
    if not value:
        return "a flag must not be empty"
    if len(value) > FLAG_MAX_CHARS:
        return f"a flag has at most {FLAG_MAX_CHARS} characters ({len(value)} given)"
    if FLAG.fullmatch(value) is None:
        return (
            f"{value!r} is not a flag: use a lowercase letter, then lowercase letters, digits, "
            "'_' or '-' (e.g. legal_hold)"
        )
    return None


def normal_flag(value: str) -> str:
    """What a person typed, as the flag it means: surrounding spaces dropped, lower case."""
    return value.strip().lower()


def valid_flags(values: object) -> tuple[str, ...]:
    """The valid flags among stored ``values``, once each, in order (anything else dropped).

    For reading what the store holds: a value written around the desk's checks must never stop
    a customer's message from being analysed.
    """
    if not isinstance(values, list | tuple):
        return ()
    good = (v for v in values if flag_problem(v) is None)
    return tuple(dict.fromkeys(good))[:MAX_FLAGS]
