"""Tailored solutions: options by cause and request, within or above authority, no repeats."""

from __future__ import annotations

import pytest

from gracedesk.errors import InvalidScenario
from gracedesk.guidance.history import History, history
from gracedesk.guidance.solutions import propose
from gracedesk.model.situation import Authority, Request, Situation
from test_guidance_support import NOW, convo, make_signals, situation

AUTH = Authority(refund_limit=100, credit_limit=30, discount_pct_limit=10)
CUSTOMER = {
    "tier": "gold",
    "lifetime_value": 2400,
    "preferred_channel": "phone",
    "currency": "EUR",
    "order_value": 120,
    "fee": 15,
}


def _parsed(**parts) -> Situation:
    return situation(convo(("c", "hi")), **parts)


def _history(customer) -> History:
    return history(_parsed(customer=customer).customer, now=NOW)


def request(raw) -> Request | None:
    return _parsed(request=raw).request


def _kinds(sols) -> list[str]:
    return [s.kind for s in sols]


@pytest.mark.parametrize(
    ("overrides", "kind", "why"),
    [
        # unmet expectations: replacement + expedited shipping
        ({"causes": {"unmet_expectations": 0.8}}, "replacement", "causes.unmet_expectations"),
        # poor service: a callback on the preferred channel
        ({"causes": {"poor_service": 0.8}}, "callback", "preferred channel phone"),
        # miscommunication: a written summary
        ({"causes": {"miscommunication": 0.8}}, "written_summary", "written record"),
        # lack of information: proactive tracking updates
        ({"causes": {"lack_of_information": 0.8}}, "tracking_updates", "chase"),
        # personal stress: flexibility
        ({"causes": {"personal_stress": 0.8}}, "deadline_extension", "flexibility"),
        ({"causes": {"personal_stress": 0.8}}, "fee_waiver", "fee 15.00 EUR"),
        # requests
        ({"requests": {"cancel": 0.9}}, "cancel_without_fee", "requests.cancel"),
        ({"requests": {"manager": 0.9}}, "supervisor_review", "requests.manager"),
        ({"requests": {"policy_exception": 0.9}}, "one_time_exception", "exception"),
        # nothing clear: investigate first
        ({}, "investigate", "no cause or request"),
    ],
)
def test_option_per_cause_and_request(overrides, kind, why) -> None:
    sols, _ = propose(make_signals(**overrides), _history(CUSTOMER), AUTH)
    got = {s.kind: s for s in sols}
    assert kind in got, _kinds(sols)
    assert any(why in w for w in got[kind].why), got[kind].why


def test_callback_uses_the_preferred_channel() -> None:
    sols, _ = propose(make_signals(causes={"poor_service": 0.8}), _history(CUSTOMER), AUTH)
    cb = next(s for s in sols if s.kind == "callback")
    assert "by phone" in cb.title and cb.channel == "phone"


REFUND = {"requests": {"refund": 0.9}}
SERVICE = {"causes": {"poor_service": 0.8}}
CANCEL = {"requests": {"cancel": 0.9}}


@pytest.mark.parametrize(
    ("auth", "overrides", "kind", "needs_approval", "reason"),
    [
        # a 120 EUR refund is above a 100 limit, within a 150 one
        (AUTH, REFUND, "refund", True, "120.00 EUR is above your refund limit of 100.00 EUR"),
        (Authority(refund_limit=150), REFUND, "refund", False, None),
        # gold tier, LTV 2400: 48 EUR credit (2 % of LTV) is above a 30 limit, within 50
        (AUTH, SERVICE, "goodwill_credit", True, "48.00 EUR is above your credit limit of 30.00"),
        (Authority(credit_limit=50), SERVICE, "goodwill_credit", False, None),
        # gold tier retention discount of 20 % is above a 10 % limit
        (AUTH, CANCEL, "retention_discount", True, "20% is above your discount limit of 10%"),
        (Authority(discount_pct_limit=25), CANCEL, "retention_discount", False, None),
        # no authority given: every amount needs approval
        (Authority(), REFUND, "refund", True, "above your refund limit of 0.00 EUR"),
    ],
)
def test_authority(auth, overrides, kind, needs_approval, reason) -> None:
    sols, _ = propose(make_signals(**overrides), _history(CUSTOMER), auth)
    opt = next(s for s in sols if s.kind == kind)
    assert opt.needs_approval is needs_approval
    if reason:
        assert opt.approval_reason and reason in opt.approval_reason
    # options within authority come before those that need approval
    flags = [s.needs_approval for s in sols]
    assert flags == sorted(flags)


@pytest.mark.parametrize(
    ("given_at", "repeated"),
    [
        ("2026-11-01", False),  # a credit 20 days ago is not repeated
        ("2026-08-01", True),  # one 112 days ago may be given again
    ],
)
def test_no_repeated_compensation(given_at, repeated) -> None:
    cust = CUSTOMER | {"compensation": [{"kind": "credit", "amount": 20, "at": given_at}]}
    sig = make_signals(causes={"poor_service": 0.8, "unmet_expectations": 0.6})
    sols, notes = propose(sig, _history(cust), AUTH)
    kinds = _kinds(sols)
    assert ("goodwill_credit" in kinds) is repeated
    assert ("partial_refund" in kinds) is repeated  # money goodwill in another form is a repeat
    if not repeated:
        assert "priority_handling" in kinds
        assert any(
            "credit of 20.00 EUR was already given on 2026-11-01 (20 days ago)" in n for n in notes
        )


def test_serial_complainer_gets_a_consistent_documented_answer() -> None:
    cust = CUSTOMER | {"compensation": [{"kind": "credit", "amount": 25, "at": "2026-01-01"}]}
    sig = make_signals(causes={"poor_service": 0.8})
    sols, _ = propose(
        sig, _history(cust), Authority(credit_limit=100), archetype="serial_complainer"
    )
    credit = next(s for s in sols if s.kind == "goodwill_credit")
    assert credit.amount == 25 and "25.00 EUR" in credit.title
    assert any("consistent answer" in w for w in credit.why)
    assert "written_summary" in _kinds(sols)


def test_indecisive_gets_two_options() -> None:
    sig = make_signals(
        causes={"unmet_expectations": 0.8, "poor_service": 0.6}, requests={"refund": 0.9}
    )
    sols, notes = propose(sig, _history(CUSTOMER), AUTH, archetype="indecisive")
    assert len(sols) == 2
    assert any("two clearest options" in n for n in notes)


@pytest.mark.parametrize(
    ("agent", "words"),
    [
        ({"authority": {"refund_limit": -5}}, "refund_limit must be a number"),  # negative
        ({"authority": {"refund_limit": "lots"}}, "refund_limit must be a number"),  # text
        ({"authority": {"refund_cap": 10}}, "unknown key(s) refund_cap"),  # typo
        ({"authority": [1]}, "agent.authority must be an object"),  # wrong type
    ],
)
def test_bad_authority(agent, words) -> None:
    with pytest.raises(InvalidScenario, match=words.replace("(", r"\(").replace(")", r"\)")):
        _parsed(agent=agent)


@pytest.mark.parametrize(
    ("customer", "words"),
    [
        ({"compensation": [{"amount": 5}]}, "compensation[0].kind is required"),
        ({"compensation": [{"kind": "credit", "at": "yesterday"}]}, "is not an ISO"),
        ({"lifetime_value": "big"}, "customer.lifetime_value must be a non-negative number"),
        ({"issues": "many"}, "customer.issues must be a list"),
        ("gold", "customer must be an object"),
    ],
)
def test_bad_history(customer, words) -> None:
    with pytest.raises(InvalidScenario) as err:
        _history(customer)
    assert words in str(err.value)


# -- the request sizes the refund; an unknown amount is never within authority --------------
NO_ORDER = {k: v for k, v in CUSTOMER.items() if k != "order_value"}


@pytest.mark.parametrize(
    ("customer", "req", "amount", "needs_approval", "reason"),
    [
        # no order value, no request: the amount is unknown, so it needs approval
        (NO_ORDER, None, None, True, "amount not known: confirm it is within your refund limit"),
        # the request's amount, above or within the limit (the policy's request, as s1 gives it)
        (NO_ORDER, {"kind": "refund", "amount": 120}, 120, True, "120.00 EUR is above your refund"),
        (NO_ORDER, {"kind": "refund", "amount": 60}, 60, False, None),
        # the request wins over the order value: it is what the customer asks for
        (CUSTOMER, {"kind": "refund", "amount": 60}, 60, False, None),
        # a request of another kind leaves the order value in charge
        (CUSTOMER, {"kind": "exception"}, 120, True, "120.00 EUR is above your refund limit"),
    ],
)
def test_refund_is_checked_against_authority(customer, req, amount, needs_approval, reason) -> None:
    sols, _ = propose(make_signals(**REFUND), _history(customer), AUTH, request=request(req))
    refund = next(s for s in sols if s.kind == "refund")
    assert refund.amount == amount
    assert refund.needs_approval is needs_approval
    if reason:
        assert refund.approval_reason and reason in refund.approval_reason


def test_a_refund_request_gives_a_refund_option_even_with_a_weak_signal() -> None:
    sols, _ = propose(make_signals(), _history(NO_ORDER), AUTH, request=request({"kind": "refund"}))
    refund = next(s for s in sols if s.kind == "refund")
    assert refund.needs_approval and "the request is a refund" in refund.why


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ({"kind": "gift"}, "request.kind must be one of"),
        ({"kind": "refund", "amount": -1}, "request.amount must be a non-negative number"),
        ({"kind": "refund", "amount": "120"}, "request.amount must be a non-negative number"),
        ({"kind": "refund", "sum": 1}, "unknown key(s) sum"),
        ([1], "request must be an object"),
    ],
)
def test_bad_request(raw, words) -> None:
    with pytest.raises(InvalidScenario) as err:
        _parsed(request=raw)
    assert words in str(err.value)


# -- a customer who already cancelled is not offered a cancellation or a retention deal ------
def test_already_cancelled_gets_the_cancellation_confirmed() -> None:
    sols, notes = propose(
        make_signals(**CANCEL),
        _history(CUSTOMER),
        AUTH,
        already_cancelled="turn 1 (customer)",
    )
    kinds = _kinds(sols)
    assert "cancel_without_fee" not in kinds and "retention_discount" not in kinds
    confirm = next(s for s in sols if s.kind == "confirm_cancellation")
    assert "took effect" in confirm.title and "charges taken after it" in confirm.title
    assert any("already cancelled (turn 1 (customer))" in w for w in confirm.why)
    assert confirm.needs_approval  # the amount of the charges is not known yet
    assert any("already cancelled" in n for n in notes)
    sized, _ = propose(
        make_signals(**CANCEL),
        _history(CUSTOMER),
        AUTH,
        request=request({"kind": "refund", "amount": 30}),
        already_cancelled="turn 1 (customer)",
    )
    confirm = next(s for s in sized if s.kind == "confirm_cancellation")
    assert confirm.amount == 30 and not confirm.needs_approval


# -- no goodwill for threats or abuse at people ----------------------------------------------
AT_COMPANY = {"agent": 0.02, "company": 0.9, "person": 0.0, "group": 0.0, "none": 0.08}
GOODWILL_ASKS = {
    "causes": {"poor_service": 0.8, "unmet_expectations": 0.6, "personal_stress": 0.6},
    "requests": {"cancel": 0.9},
}


@pytest.mark.parametrize(
    ("overrides", "withheld"),
    [
        ({"abuse": {"threat": 0.95}}, True),  # a threat of violence
        ({"abuse": {"insult": 0.8}}, True),  # abuse at people (target unknown: people)
        ({"earlier_threat": 0.9}, True),  # a threat earlier in the conversation, not cleared
        ({"abuse": {"profanity": 0.9, "offensive": 0.8}}, False),  # venting
        ({"abuse": {"insult": 0.8}, "target": AT_COMPANY}, False),  # insulting the company
    ],
)
def test_no_goodwill_for_threats_or_abuse(overrides, withheld) -> None:
    sols, notes = propose(
        make_signals(**GOODWILL_ASKS, **overrides),
        _history(CUSTOMER),
        Authority(100, 100, 50),
    )
    kinds = set(_kinds(sols))
    money = {"goodwill_credit", "partial_refund", "retention_discount", "fee_waiver"}
    assert bool(kinds & money) is not withheld, kinds
    assert any("no goodwill while the customer threatens" in n for n in notes) is withheld
    if withheld:
        assert kinds  # something that is not money is still offered
