"""``gracedesk serve --demo``: demo users and the packaged (masked) difficult conversations.

Every customer message goes through the real flow (stored, analysed, decided, guided) at its
own time in the recent past, and agent turns are sent as replies by the demo agent, so the
inbox, the escalation queue, follow-ups and SLA breaches all show what the desk really does.
Seeding twice does nothing the second time.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from gracedesk.demo import load_conversations
from gracedesk.service import actions
from gracedesk.service.build import build_desk
from gracedesk.service.desk import CustomerRef, Incoming
from gracedesk.service.knowledge import import_dir, starter_dir
from gracedesk.service.users import create_user
from gracedesk.store import demo as demo_store

if TYPE_CHECKING:
    from gracedesk.settings import Settings
    from gracedesk.store import Store

PASSWORD = "gracedesk-demo"
USERS = (
    ("sam", "agent", "Sam Agent", {"refund_limit": 50, "credit_limit": 25}),
    ("robin", "agent", "Robin Agent", {"refund_limit": 50, "credit_limit": 25}),
    ("alex", "supervisor", "Alex Supervisor", {"refund_limit": 500, "credit_limit": 200}),
)
SPACING = timedelta(minutes=41)  # between the starts of two demo conversations


def seed(settings: Settings, store: Store, *, now: datetime) -> list[str]:
    out: list[str] = []
    with store.read() as s:
        have = demo_store.user_names(s.connection())
        seeded = demo_store.demo_customer_id(s.connection(), "demo-0001")
    for name, role, display, authority in USERS:
        if name not in have:
            create_user(
                store,
                name,
                role=role,
                now=now,
                password=PASSWORD,
                display_name=display,
                authority=authority,
            )
    out.append(
        "demo users: "
        + ", ".join(f"{n} ({r})" for n, r, _, _ in USERS)
        + f"; password {PASSWORD!r}"
    )

    kb = import_dir(store, starter_dir(), actor="demo", now=now)  # idempotent: no-op the 2nd time
    out.append(f"knowledge base: {len(kb.added)} starter articles added, {len(kb.updated)} updated")
    out += [f"knowledge base: starter file {f} not imported: {why}" for f, why in kb.invalid]
    if seeded is not None:
        out.append("demo conversations already seeded")
        return out
    desk = build_desk(settings)
    with store.read() as s:
        agents = {u.name: u for u in demo_store.users(s.connection())}
    convs = load_conversations()
    for i, conv in enumerate(convs):
        c = conv["customer"]
        ref = CustomerRef(c["external_id"], c.get("name"), c.get("email"), tier=c.get("tier"))
        last = conv["messages"][-1]["offset_minutes"]
        start = now - SPACING * (len(convs) - i) - timedelta(minutes=last)
        agent = agents["sam" if i % 2 == 0 else "robin"]
        conv_id: int | None = None
        for m in conv["messages"]:
            at = start + timedelta(minutes=m["offset_minutes"])
            if m["role"] == "customer":
                posted = desk.post_message(
                    Incoming(
                        ref,
                        m["text"],
                        channel=conv.get("channel", "api"),
                        conversation_id=conv_id,
                        subject=conv.get("subject"),
                    ),
                    actor=None,
                    now=at,
                )
                conv_id = posted.conversation_id
            elif conv_id is not None:
                actions.send_reply(desk, conv_id, m["text"], user=agent, now=at)
    desk.store.close()
    out.append(f"demo conversations: {len(convs)} seeded")
    return out
