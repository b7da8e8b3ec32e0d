"""``gracedesk kb import|list|search|questions``: the knowledge base from the command line.

A thin binding over :mod:`gracedesk.service.knowledge`: settings and the store are built here.
``kb import DIR`` exits 1 when a file could not be used (the others are imported all the same);
``kb search -`` reads JSONL queries ``{"id", "text"}`` from stdin and writes one line per query,
``{"id", "hits": [...]}``, in order; a line that cannot be used gets an error record in its
place, as ``gracedesk analyze`` does. ``kb questions FILE`` adds answered questions (JSONL
``{"article", "text"}``: a past customer question and the article that settled it); it exits 1
when a line is not valid JSON or names no article (the other lines are added all the same).
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from gracedesk.cli.desk_cmd import _settings, _store, home_option
from gracedesk.errors import GracedeskError

if TYPE_CHECKING:
    from gracedesk.store import Store

FORMATS = ("text", "json")
BATCH = 64  # queries embedded together in ``kb search -``


def _open() -> Store:
    return _store(_settings())


@click.group()
def kb() -> None:
    """Knowledge base: import Markdown articles, list and search them (docs/knowledge.md)."""


@kb.command("import")
@home_option
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--actor", default="cli", show_default=True, help="Who the audit trail names.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
def import_articles(directory: Path, actor: str, fmt: str) -> None:
    """Import every *.md article of DIRECTORY (idempotent; a changed file is a new version)."""
    # lazy: keeps `gracedesk --help` fast
    from gracedesk.service.knowledge import import_dir

    store = _open()
    try:
        report = import_dir(store, directory, actor=actor, now=datetime.now(UTC))
    except GracedeskError as exc:
        raise click.ClickException(exc.message) from exc
    finally:
        store.close()
    if fmt == "json":
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False))
    else:
        for name in ("added", "updated", "unchanged"):
            ids: list[str] = getattr(report, name)
            click.echo(
                f"{name}: {len(ids)}"
                + (f" ({', '.join(ids)})" if ids and name != "unchanged" else "")
            )
        for file, reason in report.invalid:
            click.echo(f"invalid: {file}: {reason}", err=True)
    if report.invalid:
        click.echo(
            f"gracedesk kb import: {len(report.invalid)} file(s) could not be used; "
            "fix them and import again (the others were imported)",
            err=True,
        )
        sys.exit(1)


@kb.command("questions")
@home_option
@click.argument("file", type=click.File("rb"))
@click.option("--actor", default="cli", show_default=True, help="Who the audit trail names.")
def questions_cmd(file: Any, actor: str) -> None:
    """Add answered questions from FILE (JSONL {"article", "text"}; - for stdin): past customer
    questions and the article that answered them, so that new questions worded the same way
    find it (docs/knowledge.md)."""
    # lazy: keeps `gracedesk --help` fast
    from gracedesk.service.knowledge import add_questions

    items: list[tuple[str, str]] = []
    bad: list[str] = []
    for n, raw in enumerate(file, 1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except ValueError:
            bad.append(f"line {n}: not valid JSON")
            continue
        if not (
            isinstance(obj, dict)
            and isinstance(obj.get("article"), str)
            and isinstance(obj.get("text"), str)
        ):
            bad.append(f'line {n}: needs "article" and "text" strings')
            continue
        items.append((obj["article"], obj["text"]))
    store = _open()
    try:
        report = add_questions(store, items, actor=actor, now=datetime.now(UTC))
    except GracedeskError as exc:
        raise click.ClickException(exc.message) from exc
    finally:
        store.close()
    click.echo(f"added: {report.added}\nunchanged: {report.unchanged}")
    bad += [f"item {i + 1}: no article {a!r} (or empty text)" for i, a in report.unknown]
    for b in bad:
        click.echo(f"skipped: {b}", err=True)
    if bad:
        sys.exit(1)


@kb.command("list")
@home_option
@click.option("--audience", type=click.Choice(["customer", "internal"]), default=None)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
def list_cmd(audience: str | None, fmt: str) -> None:
    """List the articles: id, version, audience, title."""
    # lazy: keeps `gracedesk --help` fast
    from gracedesk.service.knowledge import list_articles

    store = _open()
    try:
        rows = list_articles(store, audience=audience)
    finally:
        store.close()
    if fmt == "json":
        click.echo(json.dumps([r.to_dict() for r in rows], ensure_ascii=False))
        return
    for r in rows:
        click.echo(f"{r.id}\tv{r.version}\t{r.audience}\t{r.title}")


def _hits(hits: list[Any]) -> list[dict[str, Any]]:
    return [h.to_dict() for h in hits]


@kb.command("search")
@home_option
@click.argument("query")
@click.option("--k", "k", type=click.IntRange(1, 50), default=5, show_default=True)
@click.option("--audience", type=click.Choice(["customer", "internal"]), default=None)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
def search_cmd(query: str, k: int, audience: str | None, fmt: str) -> None:
    """Search the articles; QUERY '-' reads JSONL {"id","text"} from stdin, one line out each."""
    # lazy: keeps `gracedesk --help` fast
    from gracedesk.service.knowledge import search

    store = _open()
    try:
        if query == "-":
            _search_stream(store, k=k, audience=audience)
            return
        try:
            hits = search(store, query, k=k, audience=audience)
        except GracedeskError as exc:
            raise click.ClickException(exc.message) from exc
    finally:
        store.close()
    if fmt == "json":
        click.echo(json.dumps(_hits(hits), ensure_ascii=False))
        return
    for h in hits:
        passage = " ".join(h.passage.split())
        click.echo(f"{h.score:.3f}\t{h.article_id}\t{h.title}\n\t{passage}")


def _search_stream(store: Store, *, k: int, audience: str | None) -> None:
    # lazy: keeps `gracedesk --help` fast
    from gracedesk.cli.jsonl import error_record, parse_line, run_stream
    from gracedesk.service.knowledge import search_many

    def handle(lines: list[tuple[int, bytes]]) -> list[dict[str, Any]]:
        items = [parse_line(raw, n) for n, raw in lines]
        good = [it for it in items if it.error is None]
        found = search_many(store, [str(it.text) for it in good], k=k, audience=audience)
        done = {id(it): hits for it, hits in zip(good, found, strict=True)}
        return [
            {"id": it.id, "hits": _hits(done[id(it)])} if it.error is None else error_record(it)
            for it in items
        ]

    run_stream("-", "-", handle, command="kb search", noun="query", batch=BATCH)
