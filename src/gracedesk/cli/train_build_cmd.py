"""``gracedesk train build --from-desk``: practice scenarios from the desk's hardest conversations.

The store's resolved conversations are ranked (risk, escalation, low CSAT), masked and written as
scenario files that the loader validates (``training.from_desk``; docs/training.md "Scenarios
from your own desk"). By default they go to the data directory's ``scenarios/`` folder, which
the console reads beside the packaged library (``train list/play --scenarios DIR`` too).
"""

from __future__ import annotations

from pathlib import Path

import click

from gracedesk.cli.desk_cmd import _settings, _store, home_option
from gracedesk.errors import GracedeskError


@click.command("build")
@home_option
@click.option(
    "--from-desk",
    "from_desk",
    is_flag=True,
    help="Build from the store's hardest resolved conversations (the only source for now).",
)
@click.option(
    "--limit",
    type=click.IntRange(1, 1000),
    default=10,
    show_default=True,
    help="How many scenarios, at most.",
)
@click.option(
    "--out",
    "out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder to write to (default: the data directory's scenarios/).",
)
@click.option(
    "--prune",
    is_flag=True,
    help="Also delete the folder's desk-*.toml files this run did not write (e.g. from a "
    "customer erased since).",
)
def build(from_desk: bool, limit: int, out: Path | None, prune: bool) -> None:
    """Scenarios from the desk's hardest resolved conversations, masked."""
    # lazy: keeps `gracedesk --help` fast
    from gracedesk.service.training import desk_conversations
    from gracedesk.training.from_desk import build as build_scenarios

    if not from_desk:
        raise click.UsageError("say where from: --from-desk")
    settings = _settings()
    store = _store(settings)
    try:
        built = build_scenarios(desk_conversations(store, limit=limit), limit)
    except GracedeskError as exc:
        raise click.ClickException(exc.message) from exc
    finally:
        store.close()
    folder = out if out is not None else settings.home.expanduser() / "scenarios"
    folder.mkdir(parents=True, exist_ok=True)
    for b in built:
        # a conversation read with another persona than last time: its old file goes
        for old in folder.glob(f"desk-{b.conversation_id}-*.toml"):
            if old.name != f"{b.id}.toml":
                old.unlink()
        path = folder / f"{b.id}.toml"
        if not path.exists() or path.read_text(encoding="utf-8") != b.toml:
            path.write_text(b.toml, encoding="utf-8")
        d = b.data
        click.echo(
            f"{path}  conversation {b.conversation_id}  {d['difficulty']} {d['persona']} "
            f"{d['cause']}"
        )
    if prune:
        keep = {f"{b.id}.toml" for b in built}
        for old in sorted(folder.glob("desk-*.toml")):
            if old.name not in keep:
                old.unlink()
                click.echo(f"removed {old}", err=True)
    if not built:
        click.echo("no resolved conversation to build from yet (resolve some first)", err=True)
    else:
        click.echo(f"{len(built)} scenario(s) in {folder}", err=True)
