"""``gracedesk coach``. Owned by the coach work."""

from __future__ import annotations

import click


@click.command()
def coach() -> None:
    """Critique agent drafts (in progress)."""
    raise click.ClickException("gracedesk coach is not built yet")
