"""``gracedesk import FILE --format csv|jsonl|mbox|twcs``: bring an archive in as conversations.

A thin binding over :func:`gracedesk.channels.imports.run_import`: settings and the desk are
built here, progress goes to stderr (a tqdm bar on a terminal), the summary to stdout. Exit
code 0 when anything was imported or found already there; 1 when the file is not the format
named, or every record in it was rejected; 2 for a usage error (a missing file among them).
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from gracedesk.channels.imports import BATCH, FORMATS
from gracedesk.cli.desk_cmd import _settings, home_option
from gracedesk.errors import GracedeskError

if TYPE_CHECKING:
    from gracedesk.channels.imports.run import Report

# Testing hook: stop the process (no clean-up, as a crash or a kill would) after this many
# committed batches, so that a test can show that running the import again resumes it.
CRASH_AFTER_ENV = "GRACEDESK_IMPORT_CRASH_AFTER"
CRASH_EXIT = 75
SHOW_REJECTED = 100  # rejected records listed one by one; the rest are counted


def _progress(crash_after: int | None) -> tuple[Any, Any]:
    """A progress callback drawing a tqdm bar on stderr (only on a terminal), and its closer."""
    # lazy: keeps `gracedesk --help` fast
    from tqdm import tqdm

    state: dict[str, Any] = {"bar": None, "batches": -1}

    def update(done: int, total: int) -> None:
        bar = state["bar"]
        if bar is None:
            bar = state["bar"] = tqdm(
                total=total, initial=done, unit="msg", file=sys.stderr, disable=None
            )
        else:
            bar.update(done - bar.n)
        state["batches"] += 1
        if crash_after is not None and state["batches"] >= crash_after:
            sys.stderr.flush()
            os._exit(CRASH_EXIT)

    def close() -> None:
        if state["bar"] is not None:
            state["bar"].close()

    return update, close


def _n(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def render(report: Report) -> list[str]:
    """The summary printed at the end: what came in, what was there already, what was left
    out (line by line, with the reason)."""
    lines = [f"import #{report.import_id}: {report.path} ({report.format})"]
    if report.resumed_at:
        lines.append(
            f"resumed at message {report.resumed_at:,} of {report.total:,} "
            "(an earlier run stopped there)"
        )
    since = " since the resume" if report.resumed_at else ""
    lines.append(
        f"imported: {_n(report.imported, 'message')} ({_n(report.conversations, 'new conversation')}"
        f", {_n(report.customers, 'new customer')}{since})"
    )
    lines.append(f"skipped: {report.skipped:,} (already in the desk)")
    lines.append(f"rejected: {report.rejected:,}")
    for r in report.rejections[:SHOW_REJECTED]:
        lines.append(f"  line {r.line}: {r.reason}")
    if report.rejected > SHOW_REJECTED:
        lines.append(f"  ... and {report.rejected - SHOW_REJECTED:,} more")
    return lines


@click.command("import")
@home_option
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(FORMATS), required=True, help="The layout.")
@click.option(
    "--tier",
    type=click.Choice(["fast", "accurate"]),
    default=None,
    help="Analysis tier (default GRACEDESK_TIER, else fast).",
)
@click.option(
    "--batch",
    type=click.IntRange(1, 100_000),
    default=BATCH,
    show_default=True,
    help="Messages per transaction (and per analysis batch).",
)
@click.option(
    "--analyse/--no-analyse",
    default=True,
    show_default=True,
    help="Analyse customer messages; --no-analyse stores them only.",
)
@click.option(
    "--support-address",
    "support",
    multiple=True,
    metavar="ADDR",
    help="mbox: mail from this address is the agent's (repeat for several; required).",
)
def import_cmd(
    file: Path, fmt: str, tier: str | None, batch: int, analyse: bool, support: tuple[str, ...]
) -> None:
    """Import an archive (csv, jsonl, mbox, twcs) as conversations; resumable, idempotent."""
    # lazy: keeps `gracedesk --help` fast
    from sqlalchemy.exc import OperationalError

    # lazy: keeps `gracedesk --help` fast
    from gracedesk.channels.imports.run import Options, run_import
    from gracedesk.service.build import build_desk

    if fmt == "mbox" and not support:
        raise click.UsageError(
            "an mbox import needs --support-address: mail from it is the agent's, "
            "everything else the customer's"
        )
    raw = os.environ.get(CRASH_AFTER_ENV)
    crash_after = int(raw) if raw and raw.isdigit() else None
    settings = _settings()
    if tier is not None:
        settings = settings.model_copy(update={"tier": tier})
    options = Options(
        fmt, batch=batch, analyse=analyse, support=support, max_text_chars=settings.max_text_chars
    )
    update, close = _progress(crash_after)
    try:
        desk = build_desk(settings)
    except OperationalError as exc:
        raise click.ClickException(f"cannot open the database: {exc.orig}") from exc
    except (GracedeskError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        report = run_import(desk, file, options, clock=lambda: datetime.now(UTC), progress=update)
    except GracedeskError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        close()
        desk.store.close()
    for line in render(report):
        click.echo(line)
    if not report.imported and not report.skipped:
        raise click.ClickException(
            f"nothing imported from {file}: every record was rejected"
            if report.rejected
            else f"nothing imported: {file} holds no message"
        )
