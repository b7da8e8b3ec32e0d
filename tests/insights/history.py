"""Histories written straight into the store, so that every figure of a report is known.

``Builder`` inserts rows as the desk would have left them (conversations, messages with the
parts of their signals a report reads, replies with a coach score, escalations, sanctions,
surveys, audit events). ``hand_history`` is the history test_report.py asserts on; each
figure it yields is worked out by hand in the comments there. Times are UTC; the default
policy's calendar is Europe/London, which is on UTC in November (Mon-Thu 09:00-17:30, Fri
09:00-17:00).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from gracedesk.store import Store
from gracedesk.store.tables import (
    AuditEvent,
    Conversation,
    CsatResponse,
    Customer,
    Escalation,
    Message,
    Sanction,
    User,
)


def t(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    """A time in 2026 (November by default), UTC."""
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


class Builder:
    """Rows added to one session; ids are flushed so the caller can refer to them."""

    def __init__(self, s: Session) -> None:
        self.s = s
        self.n = 0

    def _add(self, row: Any) -> Any:
        self.s.add(row)
        self.s.flush()
        return row

    def user(
        self, name: str, role: str = "agent", *, last_break_at: datetime | None = None
    ) -> User:
        return self._add(
            User(
                name=name,
                display_name=name.title(),
                role=role,
                authority={},
                active=True,
                abuse_exposures=0,
                last_break_at=last_break_at,
                created_at=t(1, 9, month=10),
            )
        )

    def customer(self, ext: str, name: str) -> Customer:
        return self._add(
            Customer(
                external_id=ext,
                name=name,
                tier="standard",
                lifetime_value=0.0,
                preferences={},
                flags=[],
                created_at=t(1, 9, month=10),
            )
        )

    def conversation(
        self,
        customer: Customer,
        *,
        opened: datetime,
        channel: str = "email",
        team: str | None = None,
        assignee: User | None = None,
        priority: str = "normal",
        status: str = "open",
        first_response: datetime | None = None,
        resolved: datetime | None = None,
        breached: datetime | None = None,
    ) -> Conversation:
        return self._add(
            Conversation(
                customer_id=customer.id,
                channel=channel,
                subject="s",
                status=status,
                priority=priority,
                assignee_id=assignee.id if assignee else None,
                team=team,
                risk=0.0,
                labels=[],
                opened_at=opened,
                updated_at=resolved or opened,
                first_response_at=first_response,
                resolved_at=resolved,
                sla_breached_at=breached,
            )
        )

    def said(
        self,
        conv: Conversation,
        at: datetime,
        *,
        risk: float = 0.1,
        anger: float = 0.0,
        labels: Sequence[str] = (),
        causes: Mapping[str, float] | None = None,
        archetype: str | None = "none",
        analysed: bool = True,
    ) -> Message:
        """A customer message, analysed (the signals a report reads) or still pending."""
        self.n += 1
        signals = {
            "risk": risk,
            "emotions": {"anger": anger},
            "labels": list(labels),
            "causes": dict(causes or {}),
            **({"context": {"archetype": archetype}} if archetype else {}),
        }
        return self._add(
            Message(
                conversation_id=conv.id,
                author="customer",
                channel=conv.channel,
                text=f"message {self.n}",
                received_at=at,
                analysis_state="done" if analysed else "pending",
                analysis_attempts=1 if analysed else 0,
                signals=signals if analysed else None,
                risk=risk if analysed else None,
            )
        )

    def reply(self, conv: Conversation, at: datetime, user: User, *, coach: int = 70) -> Message:
        self.n += 1
        return self._add(
            Message(
                conversation_id=conv.id,
                author="agent",
                author_user_id=user.id,
                channel=conv.channel,
                text=f"reply {self.n}",
                received_at=at,
                analysis_state="none",
                analysis_attempts=0,
                critique={"score": coach, "findings": []},
            )
        )

    def escalation(
        self,
        conv: Conversation,
        kind: str,
        *,
        created: datetime,
        rule: str | None,
        target: str | None = "supervisor",
        state: str = "pending",
        decided: datetime | None = None,
    ) -> Escalation:
        return self._add(
            Escalation(
                conversation_id=conv.id,
                kind=kind,
                target=target,
                state=state,
                reason="r",
                rule_id=rule,
                data={},
                created_at=created,
                decided_at=decided,
            )
        )

    def sanction(
        self,
        customer: Customer,
        level: str,
        *,
        created: datetime,
        state: str = "active",
        conv: Conversation | None = None,
    ) -> Sanction:
        return self._add(
            Sanction(
                customer_id=customer.id,
                conversation_id=conv.id if conv else None,
                level=level,
                state=state,
                reason="r",
                created_at=created,
            )
        )

    def survey(
        self,
        conv: Conversation,
        sent: datetime,
        score: int | None = None,
        responded: datetime | None = None,
    ) -> CsatResponse:
        self.n += 1
        return self._add(
            CsatResponse(
                conversation_id=conv.id,
                token=f"token-{self.n}",
                sent_at=sent,
                score=score,
                responded_at=responded,
            )
        )

    def event(
        self,
        kind: str,
        at: datetime,
        *,
        conv: Conversation | None = None,
        actor: User | None = None,
        **detail: Any,
    ) -> AuditEvent:
        return self._add(
            AuditEvent(
                at=at,
                actor=f"user:{actor.name}" if actor else "system",
                actor_id=actor.id if actor else None,
                kind=kind,
                conversation_id=conv.id if conv else None,
                customer_id=conv.customer_id if conv else None,
                detail=detail,
            )
        )


ABUSIVE = ("angry", "abusive", "insult", "complaint")


def hand_history(store: Store) -> dict[str, int]:
    """Five conversations in November 2026, one before and one after (see test_report.py)."""
    with store.write() as s:
        b = Builder(s)
        ana = b.user("ana", last_break_at=t(20, 12))
        bo = b.user("bo", last_break_at=t(23, 12))
        sam = b.user("sam", "supervisor")
        rex, kim, polly = (
            b.customer("c-rex", "Rex Hammond"),
            b.customer("c-kim", "Kim Ito"),
            b.customer("c-polly", "Polly Green"),
        )
        # C1: Mon 2 Nov, normal, billing, ana; answered after 90 min, resolved after 120
        # working minutes (waiting on the customer left out); CSAT 2
        c1 = b.conversation(
            rex, opened=t(2, 10), team="billing", assignee=ana, status="resolved",
            first_response=t(2, 11, 30), resolved=t(3, 12),
        )  # fmt: skip
        b.said(c1, t(2, 10), risk=0.9, anger=0.9, labels=ABUSIVE,
               causes={"poor_service": 0.8}, archetype="aggressive")  # fmt: skip
        b.reply(c1, t(2, 11, 30), ana, coach=60)
        b.said(c1, t(3, 9, 30), risk=0.6, anger=0.5, labels=("complaint",),
               causes={"poor_service": 0.7}, archetype="aggressive")  # fmt: skip
        b.reply(c1, t(3, 10), ana, coach=80)
        b.escalation(c1, "escalation", created=t(2, 10), rule="abuse.insult",
                     state="approved", decided=t(2, 10, 30))  # fmt: skip
        b.sanction(rex, "warn", created=t(2, 10), conv=c1)
        b.event("agent.exposed", t(2, 11, 30), conv=c1, user_id=ana.id)
        b.event("conversation.resolved", t(3, 12), conv=c1, actor=ana)
        b.survey(c1, t(3, 12), 2, t(3, 13))
        b.event("agent.break", t(3, 14), actor=ana)
        # C2: Wed 4 Nov, high, chat, billing, ana; resolved, reopened on Thu, resolved again
        c2 = b.conversation(
            rex, opened=t(4, 9), channel="chat", team="billing", assignee=ana,
            priority="high", status="resolved", first_response=t(4, 9, 20), resolved=t(5, 9, 30),
        )  # fmt: skip
        b.said(c2, t(4, 9), risk=0.7, anger=0.7, labels=ABUSIVE,
               causes={"poor_service": 0.6, "unmet_expectations": 0.55}, archetype="aggressive")  # fmt: skip
        b.reply(c2, t(4, 9, 20), ana, coach=50)
        b.escalation(c2, "approval", created=t(4, 9), rule="approvals.refund",
                     state="approved", decided=t(4, 10, 30))  # fmt: skip
        b.event("agent.exposed", t(4, 9, 20), conv=c2, user_id=ana.id)
        b.event("conversation.resolved", t(4, 9, 40), conv=c2, actor=ana)
        b.survey(c2, t(4, 9, 40))
        b.event("conversation.reopened", t(5, 9), conv=c2)
        b.said(c2, t(5, 9), risk=0.3, anger=0.2, archetype="serial_complainer")
        b.reply(c2, t(5, 9, 10), ana, coach=90)
        b.event("conversation.resolved", t(5, 9, 30), conv=c2, actor=ana)
        b.survey(c2, t(5, 9, 30), 1, t(5, 10))
        # C3: Mon 9 Nov, normal, tech, bo; first reply after 360 min (over the 240 target),
        # the SLA sweep recorded the breach; CSAT 4
        c3 = b.conversation(
            kim, opened=t(9, 9), team="tech", assignee=bo, status="resolved",
            first_response=t(9, 15), resolved=t(10, 9), breached=t(9, 13),
        )  # fmt: skip
        b.said(c3, t(9, 9), risk=0.4, anger=0.2, labels=("complaint",),
               causes={"lack_of_information": 0.9}, archetype="vague")  # fmt: skip
        b.reply(c3, t(9, 15), bo, coach=90)
        b.event("conversation.resolved", t(10, 9), conv=c3, actor=bo)
        b.survey(c3, t(10, 9), 4, t(10, 10))
        # C4: Wed 18 Nov, low, tech, bo; never answered; a manual escalation; a restriction
        # given on Thu and lifted on Fri; a third message still waiting for analysis
        c4 = b.conversation(kim, opened=t(18, 10), team="tech", assignee=bo, priority="low")
        b.said(c4, t(18, 10), risk=0.5, anger=0.3, labels=("complaint",),
               causes={"lack_of_information": 0.7}, archetype="vague")  # fmt: skip
        b.said(c4, t(19, 10), risk=0.55, anger=0.3, labels=("complaint",),
               causes={"miscommunication": 0.6, "lack_of_information": 0.5}, archetype="vague")  # fmt: skip
        b.said(c4, t(20, 9), analysed=False)
        b.escalation(c4, "escalation", created=t(19, 10, 30), rule=None, target="specialist_team")
        restrict = b.sanction(kim, "restrict", created=t(19, 11), state="lifted", conv=c4)
        b.event("sanction.lifted", t(20, 10), actor=sam, sanction_id=restrict.id, level="restrict")
        b.event("agent.break", t(20, 12), actor=ana)
        # C5: Sat 21 Nov, urgent (its SLA clock runs round the clock), chat, tech, ana
        c5 = b.conversation(
            polly, opened=t(21, 10), channel="chat", team="tech", assignee=ana,
            priority="urgent", status="resolved", first_response=t(21, 10, 5), resolved=t(21, 10, 10),
        )  # fmt: skip
        b.said(c5, t(21, 10), risk=0.1)
        b.reply(c5, t(21, 10, 5), ana, coach=95)
        b.event("conversation.resolved", t(21, 10, 10), conv=c5, actor=ana)
        b.survey(c5, t(21, 10, 10))
        b.event("agent.break", t(23, 12), actor=bo)
        b.sanction(rex, "block", created=t(25, 10), state="pending")  # outside a conversation
        # C6: October, before the period (its CSAT 5 trains the model but is not reported)
        c6 = b.conversation(
            rex, opened=t(20, 10, month=10), team="billing", assignee=ana, status="resolved",
            first_response=t(20, 11, month=10), resolved=t(21, 10, month=10),
        )  # fmt: skip
        b.said(c6, t(20, 10, month=10), labels=("complaint",), causes={"poor_service": 0.9})
        b.reply(c6, t(20, 11, month=10), ana)
        b.survey(c6, t(21, 10, month=10), 5, t(21, 11, month=10))
        b.event("agent.break", t(15, 12, month=10), actor=bo)
        # C7: opened after the period
        c7 = b.conversation(polly, opened=t(30, 10), team="tech", assignee=bo)
        b.said(c7, t(30, 10), labels=("complaint",), causes={"poor_service": 0.9})
        ids = {"c1": c1.id, "c2": c2.id, "c3": c3.id, "c4": c4.id, "c5": c5.id}
        ids |= {"rex": rex.id, "kim": kim.id, "polly": polly.id, "ana": ana.id, "bo": bo.id}
        return ids


def synthetic_history(
    store: Store,
    *,
    answered: int,
    silent: int = 0,
    start: datetime | None = None,
) -> None:
    """``answered`` resolved conversations whose CSAT follows a known rule, and ``silent``
    calm ones without an answer. The rule: 5 - 3.5 x risk - 1 if escalated, rounded, 1-5;
    risks spread evenly over [0, 1], every third conversation escalated."""
    from datetime import timedelta

    start = start or t(2, 9)
    with store.write() as s:
        b = Builder(s)
        agent = b.user("agent-x")
        for i in range(answered + silent):
            cust = b.customer(f"syn-{i}", f"Syn {i}")
            opened = start + timedelta(hours=i % 7, days=i // 7)
            done = opened + timedelta(minutes=30)
            conv = b.conversation(
                cust, opened=opened, assignee=agent, status="resolved",
                first_response=opened + timedelta(minutes=10), resolved=done,
            )  # fmt: skip
            if i < answered:
                risk = i / max(answered - 1, 1)
                escalated = i % 3 == 0
            else:
                risk, escalated = 0.05, False
            b.said(conv, opened, risk=risk, anger=risk)
            b.reply(conv, opened + timedelta(minutes=10), agent)
            if escalated:
                b.escalation(conv, "escalation", created=opened, rule="r", state="approved")
            if i < answered:
                score = max(1, min(5, round(5 - 3.5 * risk - (1 if escalated else 0))))
                b.survey(conv, done, score, done + timedelta(minutes=5))
            else:
                b.survey(conv, done)


FIRST_NAMES = (
    "Rex Hammond", "Kim Ito", "Polly Green", "Lee Park", "Oli Novak", "Ada Brandt", "Sam Okoro",
    "Mia Laine", "Tom Hale", "Ivy Stone", "Jon Reyes", "Noor Aziz", "Eli Varga", "Zoe Quinn",
    "Ben Marsh", "Ana Costa", "Raj Mehta", "Una Berg", "Kai Tanaka", "Lia Rossi",
)  # fmt: skip
CAUSE_WEIGHTS = {
    "unmet_expectations": 4,
    "poor_service": 5,
    "miscommunication": 2,
    "lack_of_information": 3,
    "personal_stress": 1,
}
ARCHETYPE_WEIGHTS = {
    "none": 6,
    "demanding": 3,
    "aggressive": 2,
    "vague": 2,
    "serial_complainer": 2,
    "indecisive": 1,
}
WORKDAYS = tuple(d for d in range(2, 28) if datetime(2026, 11, d).weekday() < 5)


def showcase_history(store: Store, *, seed: int = 7, n: int = 72) -> None:
    """A month of plausible work (November 2026) for the console's screenshots: four agents,
    three teams, four channels; CSAT falls with risk and escalation, with noise."""
    import random
    from datetime import timedelta

    rng = random.Random(seed)
    with store.write() as s:
        b = Builder(s)
        agents = [b.user(n) for n in ("ana", "bo", "cy", "dee")]
        b.user("sam", "supervisor")
        customers = [b.customer(f"c-{i}", name) for i, name in enumerate(FIRST_NAMES)]
        targets = {"urgent": 15, "high": 60, "normal": 240, "low": 480}
        for _ in range(n):
            cust = customers[min(int(rng.expovariate(0.25)), len(customers) - 1)]
            opened = t(rng.choice(WORKDAYS), rng.randint(9, 15), rng.choice((0, 15, 30, 45)))
            agent = rng.choice(agents)
            priority = rng.choices(list(targets), weights=(1, 3, 8, 3))[0]
            wait = rng.choice((5, 12, 25, 40, 55, 90, 150, 200, 320))
            done = rng.random() < 0.85
            conv = b.conversation(
                cust,
                opened=opened,
                channel=rng.choices(("email", "chat", "api", "phone"), weights=(5, 4, 2, 1))[0],
                team=rng.choice(("billing", "tech", "delivery")),
                assignee=agent,
                priority=priority,
                status="resolved" if done else "open",
                first_response=opened + timedelta(minutes=wait),
                resolved=opened + timedelta(minutes=wait + rng.choice((20, 60, 240, 1500)))
                if done
                else None,
                breached=opened + timedelta(minutes=targets[priority])
                if wait > targets[priority]
                else None,
            )
            risk = round(rng.betavariate(1.6, 2.2), 2)
            abusive = risk > 0.75
            cause = rng.choices(list(CAUSE_WEIGHTS), weights=list(CAUSE_WEIGHTS.values()))[0]
            labels = ("complaint",) + (("angry", "abusive", "insult") if abusive else ())
            b.said(
                conv,
                opened,
                risk=risk,
                anger=risk,
                labels=labels if risk > 0.3 else (),
                causes={cause: 0.5 + risk / 2} if risk > 0.2 else {},
                archetype=rng.choices(
                    list(ARCHETYPE_WEIGHTS), weights=list(ARCHETYPE_WEIGHTS.values())
                )[0],
            )
            reply_at = opened + timedelta(minutes=wait)
            b.reply(conv, reply_at, agent, coach=rng.randint(45, 98))
            escalated = risk > 0.7
            if abusive:
                b.event("agent.exposed", reply_at, conv=conv, user_id=agent.id)
                if rng.random() < 0.5:
                    b.sanction(cust, rng.choice(("warn", "warn", "restrict")), created=opened,
                               conv=conv)  # fmt: skip
            if escalated:
                b.escalation(conv, "escalation", created=opened, target="supervisor",
                             rule=rng.choice(("abuse.insult", "customer.repeat", "threats.legal")),
                             state="approved", decided=opened + timedelta(minutes=30))  # fmt: skip
            elif rng.random() < 0.12:
                b.escalation(conv, "approval", created=opened, rule="approvals.refund",
                             state="approved",
                             decided=opened + timedelta(minutes=rng.choice((15, 45, 120))))  # fmt: skip
            if done and conv.resolved_at is not None:
                b.event("conversation.resolved", conv.resolved_at, conv=conv, actor=agent)
                if rng.random() < 0.08:
                    b.event(
                        "conversation.reopened", conv.resolved_at + timedelta(hours=3), conv=conv
                    )
                noise = rng.gauss(0, 0.45)
                score = max(1, min(5, round(4.7 - 3 * risk - 0.8 * escalated + noise)))
                answered = rng.random() < 0.7
                b.survey(
                    conv,
                    conv.resolved_at,
                    score if answered else None,
                    conv.resolved_at + timedelta(hours=2) if answered else None,
                )
        for agent in agents:
            for day in rng.sample(WORKDAYS, 3):
                b.event("agent.break", t(day, 12), actor=agent)
