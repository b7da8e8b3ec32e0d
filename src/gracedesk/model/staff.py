"""Who is signed in: a staff member (agent, supervisor or admin) as the layers above read one.

A Protocol, so that the store's record of a ``users`` row (``gracedesk.store.users.StaffRecord``,
a frozen dataclass) satisfies it structurally: ``web`` names the signed-in user by this type and
never imports the store.
"""

from __future__ import annotations

from typing import Protocol


class Staff(Protocol):
    """A person who signs in; the fields the service and the console read."""

    @property
    def id(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def display_name(self) -> str: ...
    @property
    def email(self) -> str | None: ...
    @property
    def role(self) -> str: ...
    @property
    def active(self) -> bool: ...
    @property
    def timezone(self) -> str | None: ...
    @property
    def mask_abuse(self) -> bool | None: ...
