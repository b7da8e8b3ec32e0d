"""``gracedesk decide`` and ``gracedesk policy`` (check, explain). Owned by the policy work."""

from __future__ import annotations

import click


@click.command()
def decide() -> None:
    """Decide by policy for JSONL scenarios (in progress)."""
    raise click.ClickException("gracedesk decide is not built yet")


@click.group()
def policy() -> None:
    """Validate and explain policy files (in progress)."""
