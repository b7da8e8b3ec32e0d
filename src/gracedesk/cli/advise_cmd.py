"""``gracedesk advise``. Owned by the guidance work."""

from __future__ import annotations

import click


@click.command()
def advise() -> None:
    """Next de-escalation step and phrases for a conversation (in progress)."""
    raise click.ClickException("gracedesk advise is not built yet")
