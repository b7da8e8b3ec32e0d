"""Tailored solutions: concrete options for this customer, within the agent's authority.

Options come from the message's causes and requests (each at or above ``PRESENT``/``HIGH``),
sized by the customer's history (order value, tier, lifetime value, preferred channel), and
checked against the agent's :class:`~gracedesk.model.situation.Authority` (limits not given are
0: every amount then needs approval). A refund is sized by the Situation's
:class:`~gracedesk.model.situation.Request` (a refund of 120) or the order value; when neither
is known it needs approval, so it is never shown as within authority. Goodwill already given
within ``RECENT_DAYS`` is not repeated: a non-monetary option takes its place and a note says
why. No goodwill (credit, partial refund, discount, fee waiver) is offered while the customer
threatens or abuses people. A customer who says they already cancelled gets the cancellation
confirmed and the charges after it refunded, not a cancellation or a retention offer. Every
option carries ``why``.
"""

from __future__ import annotations

from dataclasses import replace

from gracedesk.guidance.history import History, channel_words, money
from gracedesk.model.guidance import Solution
from gracedesk.model.signals import Signals
from gracedesk.model.situation import Authority, Request

PRESENT = 0.35
HIGH = 0.5
RECENT_DAYS = 90
MAX_OPTIONS = 4
# Goodwill credit by tier; raised to 2 % of lifetime value, at most GOODWILL_CAP.
TIER_CREDIT = {"standard": 10.0, "bronze": 10.0, "silver": 15.0, "gold": 25.0, "platinum": 40.0}
GOODWILL_CAP = 100.0
PARTIAL_REFUND_PCT = 20.0
# Goodwill kinds and the compensation kinds in history that count as "the same again".
_MONEY = frozenset({"credit", "goodwill_credit", "voucher", "store_credit", "partial_refund"})
GOODWILL: dict[str, frozenset[str]] = {
    "goodwill_credit": _MONEY,
    "partial_refund": _MONEY,
    "retention_discount": frozenset({"discount", "retention_discount"}),
    "fee_waiver": frozenset({"fee_waiver", "waiver"}),
}


def hostile(sig: Signals) -> float:
    """A threat or abuse aimed at people, now or (a threat) earlier and not cleared."""
    earlier = sig.context.earlier_threat if sig.context is not None else 0.0
    return max(sig.threat_at_people(), sig.abuse_at_people(), earlier)


def _unknown_amount(opt: Solution, limit: float | None, what: str, cur: str | None) -> Solution:
    limit = limit or 0.0  # not known: nothing may be granted without approval
    return replace(
        opt,
        needs_approval=True,
        approval_reason=(
            f"amount not known: confirm it is within your {what} of {money(limit, cur)} "
            "before offering it, or ask a supervisor to approve"
        ),
    )


def _check(opt: Solution, limit: float | None, what: str, unit: str = "") -> Solution:
    limit = limit or 0.0  # not known: nothing may be granted without approval
    value = opt.percent if unit == "%" else opt.amount
    if value is None or value <= limit:
        return opt
    shown = f"{value:g}%" if unit == "%" else money(value, opt.currency)
    cap = f"{limit:g}%" if unit == "%" else money(limit, opt.currency)
    return replace(
        opt,
        needs_approval=True,
        approval_reason=f"{shown} is above your {what} of {cap}: ask a supervisor to approve",
    )


def _credit(h: History) -> tuple[float, str]:
    base = TIER_CREDIT.get(h.tier or "standard", TIER_CREDIT["standard"])
    why = f"tier {h.tier or 'standard'}: {money(base, h.currency)} base"
    if h.lifetime_value:
        ltv = round(0.02 * h.lifetime_value, 2)
        if ltv > base:
            base, why = ltv, f"2% of lifetime value {money(h.lifetime_value, h.currency)}"
    if base > GOODWILL_CAP:
        base, why = GOODWILL_CAP, why + f", capped at {money(GOODWILL_CAP, h.currency)}"
    return round(base, 2), why


def _candidates(
    sig: Signals,
    h: History,
    auth: Authority,
    req: Request | None = None,
    cancelled: str | None = None,
) -> list[tuple[float, Solution]]:
    """(relevance, option) for every cause and request that is present."""
    c, r, cur = sig.causes, sig.requests, h.currency
    chan = channel_words(h.preferred_channel)
    via = f" {chan}" if chan else ""
    pref = (
        f"preferred channel {h.preferred_channel} (history)"
        if h.preferred_channel
        else "no preferred channel on record"
    )
    out: list[tuple[float, Solution]] = []

    def add(score: float, opt: Solution) -> None:
        out.append((score, opt))

    v = c["unmet_expectations"]
    if v >= PRESENT:
        why = f"causes.unmet_expectations {v:.2f}: what arrived is not what was promised"
        add(
            v,
            Solution(
                "replacement",
                "a replacement sent by express shipping at no cost",
                "Send a replacement with expedited shipping and share the tracking link.",
                (why, "fixes the problem itself rather than paying for it"),
            ),
        )
        if h.order_value:
            amt = round(h.order_value * PARTIAL_REFUND_PCT / 100, 2)
            opt = Solution(
                "partial_refund",
                f"a partial refund of {money(amt, cur)}",
                f"Refund {PARTIAL_REFUND_PCT:g}% of the order value as goodwill.",
                (why, f"{PARTIAL_REFUND_PCT:g}% of the order value {money(h.order_value, cur)}"),
                amount=amt,
                currency=cur,
            )
            add(v - 0.05, _check(opt, auth.refund_limit, "refund limit"))
    v = c["poor_service"]
    if v >= PRESENT:
        why = f"causes.poor_service {v:.2f}: the service itself let them down"
        add(
            v,
            Solution(
                "callback",
                f"a call back{via} from a senior colleague within one business day",
                "Book a callback by a senior agent on the customer's preferred channel.",
                (why, pref),
                channel=h.preferred_channel,
            ),
        )
        amt, basis = _credit(h)
        opt = Solution(
            "goodwill_credit",
            f"a goodwill credit of {money(amt, cur)} on your account",
            "Add a goodwill credit to the account.",
            (why, basis),
            amount=amt,
            currency=cur,
        )
        add(v - 0.05, _check(opt, auth.credit_limit, "credit limit"))
    v = c["miscommunication"]
    if v >= PRESENT:
        add(
            v,
            Solution(
                "written_summary",
                f"a written summary of what we've agreed, sent{via or ' by email'}",
                "Send a short written summary: what happened, what was agreed, who does what by when.",
                (
                    f"causes.miscommunication {v:.2f}: a written record ends the mixed messages",
                    pref,
                ),
                channel=h.preferred_channel or "email",
            ),
        )
    v = c["lack_of_information"]
    if v >= PRESENT:
        add(
            v,
            Solution(
                "tracking_updates",
                f"proactive updates{via} at every step until this is resolved",
                "Subscribe the customer to tracking updates and send a status note at each change.",
                (f"causes.lack_of_information {v:.2f}: they had to chase for news", pref),
                channel=h.preferred_channel,
            ),
        )
    v = c["personal_stress"]
    if v >= PRESENT:
        why = f"causes.personal_stress {v:.2f}: flexibility takes pressure off"
        add(
            v,
            Solution(
                "deadline_extension",
                "a 14-day extension of your deadline",
                "Extend the payment or return deadline by 14 days.",
                (why,),
            ),
        )
        fee = h.fee
        opt = Solution(
            "fee_waiver",
            f"a waiver of the {money(fee, cur)} fee" if fee else "a waiver of the fee",
            "Waive the late or change fee.",
            (
                why,
                f"fee {money(fee, cur)} (history)" if fee else "fee amount not on record: check it",
            ),
            amount=fee,
            currency=cur if fee else None,
        )
        add(v - 0.05, _check(opt, auth.credit_limit, "credit limit"))
    v = r["refund"]
    asked = req.amount if req is not None and req.kind == "refund" else None
    if v >= HIGH or (req is not None and req.kind == "refund"):
        why = (
            f"requests.refund {v:.2f}: the customer asks for their money back"
            if v >= HIGH
            else "the request is a refund"
        )
        size = asked if asked is not None else (h.order_value or None)
        if size is not None:
            basis = (
                f"requested amount {money(size, cur)} (request)"
                if asked is not None
                else f"order value {money(size, cur)} (history)"
            )
            full = asked is None or (h.order_value is not None and asked == h.order_value)
            opt = Solution(
                "refund",
                f"a full refund of {money(size, cur)}"
                if full
                else f"a refund of {money(size, cur)}",
                "Refund the order in full to the original payment method."
                if full
                else "Refund the requested amount to the original payment method.",
                (why, basis),
                amount=size,
                currency=cur,
            )
            opt = _check(opt, auth.refund_limit, "refund limit")
        else:
            opt = Solution(
                "refund",
                "a refund of the amount charged",
                "Refund to the original payment method once the amount is confirmed.",
                (why, "amount not known: neither the request nor the history gives one"),
            )
            opt = _unknown_amount(opt, auth.refund_limit, "refund limit", cur)
        add(max(v, HIGH) + 0.1, opt)
    v = r["cancel"]
    if v >= HIGH and cancelled is not None:
        why = f"requests.cancel {v:.2f}, but the customer says they already cancelled ({cancelled})"
        opt = Solution(
            "confirm_cancellation",
            "confirmation that your cancellation took effect, and a refund of any charges "
            "taken after it",
            "Check the cancellation date, confirm in writing that it took effect, and refund "
            "every charge taken after it.",
            (why, "they are still billed: put the cancellation right, do not sell it again"),
            amount=asked,
            currency=cur if asked is not None else None,
        )
        opt = (
            _check(opt, auth.refund_limit, "refund limit")
            if asked is not None
            else _unknown_amount(opt, auth.refund_limit, "refund limit", cur)
        )
        add(v + 0.05, opt)
    elif v >= HIGH:
        why = f"requests.cancel {v:.2f}: the customer wants to cancel"
        add(
            v,
            Solution(
                "cancel_without_fee",
                "cancelling today with no cancellation fee",
                "Cancel now and confirm in writing; no fee.",
                (why, "respects their decision"),
            ),
        )
        pct = 20.0 if (h.tier in ("gold", "platinum")) else 10.0
        opt = Solution(
            "retention_discount",
            f"{pct:g}% off your next three months if you stay",
            "Offer a retention discount instead of cancelling.",
            (why, f"tier {h.tier or 'standard'}: {pct:g}% retention offer"),
            percent=pct,
        )
        add(v - 0.1, _check(opt, auth.discount_pct_limit, "discount limit", "%"))
    v = r["manager"]
    if v >= HIGH:
        add(
            v - 0.2,
            Solution(
                "supervisor_review",
                "a review by a supervisor, with the full case handed over",
                "Hand over with the packet below so the customer never repeats themselves.",
                (f"requests.manager {v:.2f}: the customer asks for someone senior",),
            ),
        )
    v = r["policy_exception"]
    wants_exception = req is not None and req.kind == "exception"
    if (v >= HIGH or wants_exception) and c["personal_stress"] < PRESENT:
        add(
            max(v, HIGH) - 0.1,
            Solution(
                "one_time_exception",
                "a one-time exception to the policy",
                "Ask a supervisor for a documented one-time exception.",
                (
                    f"requests.policy_exception {v:.2f}: the customer asks for an exception"
                    if v >= HIGH
                    else "the request is an exception to policy",
                ),
                needs_approval=True,
                approval_reason="exceptions to policy are outside an agent's own authority",
            ),
        )
    return out


def _alternative(h: History) -> Solution:
    chan = channel_words(h.preferred_channel)
    return Solution(
        "priority_handling",
        "priority handling with one named contact" + (f", reachable {chan}" if chan else ""),
        "Keep the case with one named agent and give a direct way to reach them.",
        ("goodwill was already given recently: offer attention, not money",),
        channel=h.preferred_channel,
    )


def propose(
    sig: Signals,
    h: History,
    auth: Authority,
    *,
    archetype: str = "none",
    request: Request | None = None,
    already_cancelled: str | None = None,
) -> tuple[tuple[Solution, ...], tuple[str, ...]]:
    """The options (best first) and notes on what was left out and why.

    ``request`` is what the customer asks for (a refund is sized and checked by its amount);
    ``already_cancelled`` names the turn where the customer says they already cancelled.
    """
    notes: list[str] = []
    kept: list[tuple[float, Solution]] = []
    replaced = False
    threat = hostile(sig)
    withheld: list[str] = []
    if already_cancelled is not None and sig.requests["cancel"] >= HIGH:
        notes.append(
            f"left out cancelling with no fee and a retention discount: the customer says they "
            f"already cancelled ({already_cancelled}); confirm it took effect instead"
        )
    for score, opt in _candidates(sig, h, auth, request, already_cancelled):
        if threat >= HIGH and opt.kind in GOODWILL:
            withheld.append(opt.title)
            continue
        same = GOODWILL.get(opt.kind)
        recent = [
            g
            for g in h.compensation
            if same and g.kind in same and g.days_ago is not None and g.days_ago <= RECENT_DAYS
        ]
        if recent:
            g = min(recent, key=lambda x: x.days_ago or 0)
            amt = f" of {money(g.amount, h.currency)}" if g.amount is not None else ""
            when = g.at.date().isoformat() if g.at else "recently"
            notes.append(
                f"left out {opt.title}: a {g.kind}{amt} was already given on {when} "
                f"({g.days_ago} days ago); repeating goodwill within {RECENT_DAYS} days sets "
                "a pattern"
            )
            replaced = True
            continue
        if archetype == "serial_complainer" and opt.kind in GOODWILL and opt.amount:
            earlier = [
                g.amount for g in h.compensation if g.kind in GOODWILL[opt.kind] and g.amount
            ]
            if earlier and opt.amount > max(earlier):
                cap = max(earlier)
                opt = replace(
                    opt,
                    amount=cap,
                    title=opt.title.replace(money(opt.amount, h.currency), money(cap, h.currency)),
                    why=(
                        *opt.why,
                        f"kept to the {money(cap, h.currency)} given before: "
                        "a consistent answer (archetype serial_complainer)",
                    ),
                )
        kept.append((score, opt))
    if withheld:
        notes.append(
            f"left out {'; '.join(withheld)}: no goodwill while the customer threatens or abuses "
            f"people (threat or abuse at people {threat:.2f}): it rewards the behaviour"
        )
    if replaced and not any(o.kind == "priority_handling" for _, o in kept):
        kept.append((0.5, _alternative(h)))
    if archetype == "serial_complainer" and not any(o.kind == "written_summary" for _, o in kept):
        kept.append(
            (
                0.9,
                Solution(
                    "written_summary",
                    "a written summary of our answer, added to your account notes",
                    "Record the decision and send it in writing so every agent gives the same answer.",
                    ("archetype serial_complainer: a documented, consistent answer",),
                    channel=h.preferred_channel or "email",
                ),
            )
        )
    if not kept:
        kept.append(
            (
                0.1,
                Solution(
                    "investigate",
                    "a full check of your case with an update within one business day",
                    "Investigate, then come back with what you found and the options.",
                    ("no cause or request is clear yet: find out more before offering anything",),
                ),
            )
        )
    # The most relevant options make the cut; among them, those within authority come first.
    kept.sort(key=lambda so: (-so[0], so[1].kind))
    limit = 2 if archetype == "indecisive" else MAX_OPTIONS
    if len(kept) > limit:
        if archetype == "indecisive":
            notes.append("archetype indecisive: only the two clearest options are offered")
        else:
            left = ", ".join(o.kind for _, o in kept[limit:])
            notes.append(f"less relevant option(s) left out: {left}")
    best = sorted(kept[:limit], key=lambda so: (so[1].needs_approval, -so[0], so[1].kind))
    return tuple(o for _, o in best), tuple(notes)
