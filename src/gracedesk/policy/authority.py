"""The authority matrix: what each role may grant on its own, and who approves beyond that.

Money limits are per request kind (``refund``, ``discount``, ``credit``) in the unit the request
uses; ``exception`` (bending a policy) is a yes/no right. Roles are ordered by ``rank``.
"""

from __future__ import annotations

from collections.abc import Mapping

from gracedesk.errors import InvalidFacts
from gracedesk.policy.schema import Role

MONEY_KINDS = ("refund", "discount", "credit")


def role_of(matrix: Mapping[str, Role], name: str) -> Role:
    try:
        return matrix[name]
    except KeyError:
        raise InvalidFacts(
            f"agent.role {name!r} is not in the authority matrix (known: {sorted(matrix)})"
        ) from None


def limit(role: Role, kind: str) -> float:
    """The most the role may grant alone for a money kind (0 for ``exception``)."""
    if kind in MONEY_KINDS:
        return float(getattr(role, kind))
    if kind == "exception":
        return 0.0
    raise InvalidFacts(f"request.kind {kind!r} is not one of refund, discount, credit, exception")


def over_authority(role: Role, kind: str, amount: float) -> bool:
    if kind == "exception":
        return not role.approve_exceptions
    return amount > limit(role, kind)


def approver(matrix: Mapping[str, Role], kind: str, amount: float) -> tuple[str, bool]:
    """The lowest-ranked role that may grant it, and whether anyone in the matrix may.

    When no role covers the amount, the highest-ranked role decides (``False`` says so).
    """
    ranked = sorted(matrix.items(), key=lambda kv: (kv[1].rank, kv[0]))
    for name, role in ranked:
        if not over_authority(role, kind, amount):
            return name, True
    return ranked[-1][0], False
