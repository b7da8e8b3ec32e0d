"""What ``gracedesk serve --demo`` (``gracedesk.service.demo``) reads before it seeds: the users
there are and whether the demo conversations are in already. Operations: ``user_names``,
``users``, ``demo_customer_id``.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from gracedesk.store.tables import Customer, User


def user_names(s: Session) -> set[str]:
    """The names of all users."""
    return set(s.scalars(select(User.name)))


def users(s: Session) -> Sequence[User]:
    """All users (in no particular order)."""
    return s.scalars(select(User)).all()


def demo_customer_id(s: Session, external_id: str) -> int | None:
    """The id of the customer with this external id (a seeded demo's marker), if there is one."""
    return s.scalar(select(Customer.id).where(Customer.external_id == external_id))
