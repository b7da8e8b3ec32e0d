"""Escalation policy as code: policy files -> validated PolicySet; ``decide()``; SLA clock.

>>> from gracedesk.policy import load_policy, decide
>>> policy = load_policy()            # the shipped default; load_policy("my-policy/") for yours

``decide`` and everything it calls are pure: time comes in as ``now``. Only
:mod:`gracedesk.policy.loader` reads files. See docs/policy.md.
"""

from __future__ import annotations

from gracedesk.policy.engine import RuleTrace, Trace, decide, explain, priority_of
from gracedesk.policy.facts import FIELDS, Conversation, conversation_of
from gracedesk.policy.loader import default_dir, load_policy
from gracedesk.policy.schema import PolicySet
from gracedesk.policy.sla import BusinessClock, Due, due

__all__ = [
    "FIELDS",
    "BusinessClock",
    "Conversation",
    "Due",
    "PolicySet",
    "RuleTrace",
    "Trace",
    "conversation_of",
    "decide",
    "default_dir",
    "due",
    "explain",
    "load_policy",
    "priority_of",
]
