"""Escalation risk: a documented noisy-OR over the message's (and conversation's) signals.

    risk = 1 - prod_i (1 - w_i * p_i)

Each component is a calibrated probability ``p_i`` times a weight ``w_i`` saying how strongly
that signal alone predicts an escalation. A violent threat alone gives 0.95; anger alone 0.5;
anger with a manager request and a public threat about 0.95. The weights are policy-like
judgements, written down here and in docs/analysis.md, not learned (no public data labels
escalations).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numpy.typing import NDArray

WEIGHTS: dict[str, float] = {
    "abuse.threat": 0.95,
    "legal_threat": 0.85,
    "public_threat": 0.75,
    "abuse.harassment": 0.7,
    "abuse.insult": 0.6,
    "requests.manager": 0.6,
    "emotion.anger": 0.5,
    "requests.cancel": 0.45,
    "abuse.identity_attack": 0.6,
    "emotion.frustration": 0.35,
    "complaint": 0.3,
    "requests.refund": 0.25,
    "requests.policy_exception": 0.25,
    "abuse.profanity": 0.2,
}
# Conversation components (from context): repeat contact and an escalating trajectory.
CONTEXT_WEIGHTS: dict[str, float] = {
    "repeat_contact": 0.4,  # times min(repeat_contacts, 5) / 5
    "escalating": 0.35,
    "aggressive": 0.5,
}


def risk(p: Mapping[str, float], context: Mapping[str, float] | None = None) -> float:
    keep = 1.0
    for name, w in WEIGHTS.items():
        keep *= 1.0 - w * p.get(name, 0.0)
    for name, v in (context or {}).items():
        keep *= 1.0 - CONTEXT_WEIGHTS[name] * v
    return 1.0 - keep


def risk_matrix(P: NDArray[np.float32], weights: NDArray[np.float32]) -> NDArray[np.float32]:
    """:func:`risk` without context for a whole batch: ``weights[j]`` is ``WEIGHTS`` of head j."""
    out: NDArray[np.float32] = 1.0 - np.prod(1.0 - P * weights, axis=1)
    return out
