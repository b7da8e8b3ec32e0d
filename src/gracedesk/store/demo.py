"""What ``gracedesk serve --demo`` (``gracedesk.service.demo``) reads before it seeds: the users
there are and whether the demo conversations are in already. Operations: ``user_names``,
``users``, ``demo_customer_id``.
"""

from __future__ import annotations

from sqlalchemy import Connection, select

from gracedesk.store.tables import Customer, User, table_of
from gracedesk.store.users import StaffRecord, staff_record

USERS = table_of(User)
CUSTOMERS = table_of(Customer)


def user_names(conn: Connection) -> set[str]:
    """The names of all users."""
    return set(conn.execute(select(USERS.c.name)).scalars())


def users(conn: Connection) -> list[StaffRecord]:
    """All users (in no particular order)."""
    return [staff_record(r) for r in conn.execute(select(USERS))]


def demo_customer_id(conn: Connection, external_id: str) -> int | None:
    """The id of the customer with this external id (a seeded demo's marker), if there is one."""
    c = CUSTOMERS.c
    return conn.execute(select(c.id).where(c.external_id == external_id)).scalar()
