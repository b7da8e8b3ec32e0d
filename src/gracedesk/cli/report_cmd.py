"""``gracedesk report``: the desk's report for a period, as JSON, CSV or a standalone page.

It reads the store the ``GRACEDESK_*`` settings name (no models are loaded) and the policy's
calendar and SLA targets; docs/insights.md defines every figure.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from gracedesk.cli.desk_cmd import _settings, _store, home_option
from gracedesk.errors import GracedeskError, InvalidInput


@click.command("report")
@home_option
@click.option(
    "--since",
    metavar="ISO",
    help="Start: a date (UTC midnight) or an ISO date-time with an offset; default: 30 days before --until.",
)
@click.option(
    "--until",
    metavar="ISO",
    help="End, not included; a bare date includes that whole day. Default: now.",
)
@click.option("--team", metavar="T", help="Only conversations of this team.")
@click.option("--agent", metavar="NAME", help="Only conversations assigned to this user.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["json", "html", "csv"]),
    default="json",
    show_default=True,
    help="JSON (every figure), CSV (section,key,value per figure) or a standalone HTML page with the charts.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write to this file instead of standard output.",
)
def report(
    since: str | None,
    until: str | None,
    team: str | None,
    agent: str | None,
    fmt: str,
    output: Path | None,
) -> None:
    """Report volume, response and resolution times, SLA, CSAT, escalations, causes,
    archetypes, abuse exposure, sanctions and predicted CSAT for a period."""
    # lazy: keeps `gracedesk --help` fast
    # lazy: keeps `gracedesk --help` fast
    from gracedesk.insights import export
    from gracedesk.policy import load_policy
    from gracedesk.service import reports

    try:
        period = reports.period_of(since, until, team=team, agent=agent, now=datetime.now(UTC))
    except InvalidInput as exc:
        raise click.BadParameter(exc.message) from exc
    settings = _settings()
    try:
        policy = load_policy(settings.policy_dir)
    except GracedeskError as exc:
        raise click.ClickException(str(exc)) from exc
    store = _store(settings)
    try:
        data = reports.summary(store, policy, period)
    except InvalidInput as exc:
        raise click.BadParameter(exc.message) from exc
    finally:
        store.close()
    text = {"json": export.to_json, "csv": export.to_csv, "html": export.to_html}[fmt](data)
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(f"written: {output}", err=True)
