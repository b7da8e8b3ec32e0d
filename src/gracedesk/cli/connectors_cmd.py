"""``gracedesk connectors add|list|remove``: the helpdesks the desk plugs into (docs/connectors.md).

``add`` prints the webhook path (``/hooks/<name>``) as its last line, for scripts; ``list`` never
prints a secret or an API token.
"""

from __future__ import annotations

from datetime import UTC, datetime

import click

from gracedesk.cli.desk_cmd import _settings, _store, home_option
from gracedesk.errors import GracedeskError

KINDS = ("chatwoot", "zammad", "zendesk", "freshdesk", "helpscout")  # = connectors.base.KINDS


@click.group()
def connectors() -> None:
    """Helpdesk connectors: Chatwoot, Zammad, Zendesk, Freshdesk, Help Scout."""


def _options(pairs: tuple[str, ...], account_id: str | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--option")
        out[key.strip()] = value.strip()
    if account_id is not None:
        out["account_id"] = account_id.strip()
    return out


@connectors.command("add")
@home_option
@click.argument("name")
@click.option("--kind", type=click.Choice(KINDS), required=True, help="The helpdesk.")
@click.option(
    "--secret", required=True, help="Verifies the helpdesk's webhooks (its signing secret)."
)
@click.option(
    "--api-url", required=True, help="The helpdesk's base URL (https://acme.zendesk.com)."
)
@click.option("--api-token", required=True, help="The token gracedesk writes back with.")
@click.option("--account-id", default=None, help="Chatwoot: the account id (required).")
@click.option(
    "--option",
    "pairs",
    multiple=True,
    metavar="KEY=VALUE",
    help="A kind-specific option (Zendesk: email=<API user>; Help Scout: app_id=<app id>).",
)
def connectors_add(
    name: str,
    kind: str,
    secret: str,
    api_url: str,
    api_token: str,
    account_id: str | None,
    pairs: tuple[str, ...],
) -> None:
    """Store a connector NAME and print its webhook path (the last line)."""
    # lazy: keeps `gracedesk --help` fast
    from gracedesk.channels.connectors import manage

    settings = _settings()
    store = _store(settings)
    try:
        info = manage.add(
            store,
            name,
            kind,
            secret=secret,
            api_url=api_url,
            api_token=api_token,
            options=_options(pairs, account_id),
            now=datetime.now(UTC),
        )
    except GracedeskError as exc:
        raise click.ClickException(exc.message) from exc
    finally:
        store.close()
    path = manage.hook_path(info.name)
    click.echo(f"created {info.kind} connector {info.name!r}; its webhook URL:", err=True)
    click.echo(f"  {settings.base_url.rstrip('/')}{path}", err=True)
    click.echo(path)


@connectors.command("list")
@home_option
def connectors_list() -> None:
    """List the connectors (never their secrets or tokens)."""
    # lazy: keeps `gracedesk --help` fast
    from gracedesk.channels.connectors import manage

    store = _store(_settings())
    try:
        rows = manage.summary(store)
    finally:
        store.close()
    if not rows:
        click.echo("no connectors (gracedesk connectors add --help)")
    for r in rows:
        options = " ".join(f"{k}={v}" for k, v in r["options"].items())
        state = "active" if r["active"] else "inactive"
        click.echo(
            f"{r['name']}\t{r['kind']}\t{r['api_url']}\t{r['webhook']}\t{state}\t"
            f"{r['conversations']} conversation(s)" + (f"\t{options}" if options else "")
        )
        if r["last_error"]:
            click.echo(f"  last error: {r['last_error']}")


@connectors.command("remove")
@home_option
@click.argument("name")
def connectors_remove(name: str) -> None:
    """Remove connector NAME; its conversations stay in the desk, unlinked from the helpdesk."""
    # lazy: keeps `gracedesk --help` fast
    from gracedesk.channels.connectors import manage

    store = _store(_settings())
    try:
        unlinked = manage.remove(store, name)
    except GracedeskError as exc:
        raise click.ClickException(exc.message) from exc
    finally:
        store.close()
    click.echo(f"removed connector {name!r}; {unlinked} conversation(s) unlinked")
