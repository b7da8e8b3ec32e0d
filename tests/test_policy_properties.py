"""Properties of decide: the ladder never skips a step except for violence, decisions are
deterministic whatever the rule order, and every decision explains itself."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from gracedesk.model.decision import ACTIONS
from gracedesk.model.signals import ABUSE, REQUESTS
from gracedesk.model.situation import (
    AgentProfile,
    CustomerHistory,
    Request,
    Sanction,
    Situation,
    Turn,
)
from gracedesk.policy import Conversation, decide
from gracedesk.policy.condition import compiled, evaluate
from gracedesk.policy.loader import load_policy
from gracedesk.policy.sanctions import LEVELS, step
from gracedesk.policy.scenario import signals_from
from gracedesk.policy.schema import Condition

POLICY = load_policy()
NOW = datetime(2025, 3, 4, 11, 0, tzinfo=UTC)
LEVEL_OF_ACTION = {"warn_customer": 1, "restrict": 2, "block": 3}

score = st.floats(0, 1, allow_nan=False)
signals = st.builds(
    lambda abuse, req, legal, public, complaint: signals_from(
        {
            "abuse": abuse,
            "requests": req,
            "legal_threat": legal,
            "public_threat": public,
            "complaint": complaint,
        }
    ),
    st.fixed_dictionaries({a: score for a in ABUSE}),
    st.fixed_dictionaries({r: score for r in REQUESTS}),
    score,
    score,
    score,
)
history = st.lists(
    st.builds(
        Sanction,
        st.sampled_from(LEVELS[1:]),
        st.one_of(st.none(), st.integers(0, 800).map(lambda d: NOW - timedelta(days=d))),
    ),
    max_size=4,
)
customers = st.builds(
    CustomerHistory,
    tier=st.sampled_from(["standard", "gold"]),
    lifetime_value=st.floats(0, 10_000),
    complaints_90d=st.integers(0, 6),
    sanctions=history.map(tuple),
)
conversations = st.builds(
    Conversation,
    turns=st.integers(1, 12),
    unresolved_attempts=st.integers(0, 5),
    business_minutes_open=st.floats(0, 3000),
    warnings=st.integers(0, 2),
)
requests = st.one_of(
    st.none(),
    st.builds(
        Request, st.sampled_from(["refund", "discount", "credit", "exception"]), st.floats(0, 5000)
    ),
)
roles = st.sampled_from(sorted(POLICY.authority)).map(AgentProfile)


def situation(cust: CustomerHistory, agent: AgentProfile, req: Request | None) -> Situation:
    return Situation((Turn("customer", "hello"),), cust, agent, request=req)


@settings(max_examples=150, deadline=None)
@given(signals, conversations, customers, roles, requests)
def test_decisions_explain_themselves_and_never_skip_a_sanction(
    sig, conv, cust, agent, req
) -> None:
    out = decide(sig, situation(cust, agent, req), POLICY, now=NOW, conversation=conv)
    for d in out:
        assert d.rule_id and d.reason and d.policy_version == POLICY.version
        assert d.action in ACTIONS
    window = timedelta(days=POLICY.sanctions.window_days)
    current = max(
        (LEVELS.index(s.level) for s in cust.sanctions if s.at is None or s.at >= NOW - window),
        default=0,
    )
    sanctions = [LEVEL_OF_ACTION[d.action] for d in out if d.action in LEVEL_OF_ACTION]
    assert len(sanctions) <= 1
    violence = sig.abuse["threat"] >= 0.5
    for level in sanctions:
        assert violence or level <= current + 1
        if level == 3:
            assert any(d.approval_required and d.approver_role == "supervisor" for d in out)
    assert sum(d.action == "set_priority" for d in out) == 1
    assert sum(d.action == "route" for d in out) == 1


@settings(max_examples=60, deadline=None)
@given(signals, conversations, customers, roles, requests, st.randoms(use_true_random=False))
def test_decide_is_deterministic_whatever_the_rule_order(sig, conv, cust, agent, req, rnd) -> None:
    sit = situation(cust, agent, req)
    first = decide(sig, sit, POLICY, now=NOW, conversation=conv)
    assert decide(sig, sit, POLICY, now=NOW, conversation=conv) == first
    rules = list(POLICY.rules)
    rnd.shuffle(rules)
    shuffled = dataclasses.replace(POLICY, rules=tuple(rules))
    assert decide(sig, sit, shuffled, now=NOW, conversation=conv) == first


@given(st.integers(0, 3), st.one_of(st.none(), st.integers(1, 3)), st.booleans())
def test_ladder_step(current: int, requested: int | None, violence: bool) -> None:
    got = step(current, requested, violence=violence)
    assert 1 <= got <= 3
    if not violence or requested is None:
        assert got <= current + 1


FACT_VALUES: dict[str, st.SearchStrategy[object]] = {
    "signals.risk": st.one_of(score, st.just(float("nan")), st.booleans()),
    "signals.context.earlier_abuse": st.integers(0, 5),
    "signals.language": st.sampled_from(["en", "fr", "de"]),
    "signals.labels": st.lists(st.sampled_from(["refund", "manager", "threat"]), max_size=3).map(
        tuple
    ),
    "signals.context.resolved": st.booleans(),
}
leaves = st.one_of(
    st.builds(
        lambda f, op, v: Condition(field=f, op=op, value=v),
        st.sampled_from(["signals.risk", "signals.context.earlier_abuse", "signals.language"]),
        st.sampled_from([">=", ">", "<=", "<", "==", "!="]),
        st.one_of(
            score,
            st.integers(0, 5),
            st.sampled_from(["en", "fr"]),
            st.booleans(),
            st.just(float("nan")),
            st.lists(st.integers(0, 2), min_size=1, max_size=2),
        ),
    ),
    st.builds(
        lambda op, v: Condition(field="signals.language", op=op, value=v),
        st.sampled_from(["in", "not_in"]),
        st.lists(st.sampled_from(["en", "fr", "de"]), min_size=1, max_size=3),
    ),
    st.builds(
        lambda v: Condition(field="signals.labels", op="contains", value=v),
        st.sampled_from(["refund", "manager", "threat"]),
    ),
    st.builds(
        lambda v: Condition(field="signals.context.resolved", op="==", value=v), st.booleans()
    ),
)
conditions = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.lists(inner, min_size=1, max_size=3).map(lambda cs: Condition(all=cs)),
        st.lists(inner, min_size=1, max_size=3).map(lambda cs: Condition(any=cs)),
        inner.map(lambda c: Condition(**{"not": c})),
    ),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(conditions, st.fixed_dictionaries(FACT_VALUES))
def test_a_compiled_condition_says_what_matches_says(cond: Condition, facts: dict) -> None:
    """The policy's rules run compiled (``PolicySet.tests``); the compiled form agrees with the
    explained ``evaluate``, whatever the form."""
    assert compiled(cond)(facts) is evaluate(cond, facts).matched
