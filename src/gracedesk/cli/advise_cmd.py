"""``gracedesk advise``: JSONL scenarios in, one guidance object out per line, streaming.

A scenario line::

    {"id": "c1", "messages": [{"role": "customer"|"agent", "text": ..., "at"?: ISO}, ...],
     "customer": {...history...}, "agent": {"name", "authority": {...}},
     "commitments"?: [{"text", "due"}], "request"?: {"kind", "amount"?}, "now"?: ISO}

The last customer message is analysed with the earlier messages and the customer as context;
then ``gracedesk.guidance.advice.advise`` gives the guidance. A line that cannot be used gets
an error object (``{"id", "line", "error"}``) in its place; the exit status is 1 only when no
line was usable.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

import gracedesk
from gracedesk.cli.jsonl import MAX_LINE_BYTES, Item, error_record, output_option, run_stream
from gracedesk.errors import EmptyText, GracedeskError, InvalidScenario, MalformedLine
from gracedesk.model.clock import parse_iso
from gracedesk.model.situation_parse import parse_situation


def _parse_now(text: str, where: str) -> datetime:
    try:
        return parse_iso(text)
    except ValueError as exc:
        raise MalformedLine(f"{where}: {text!r} is not an ISO date/time") from exc


def _scenario(raw: bytes, line: int) -> dict[str, Any]:
    if len(raw) > MAX_LINE_BYTES:
        raise MalformedLine(f"line {line} is over {MAX_LINE_BYTES} bytes")
    s = raw.decode("utf-8", errors="replace").removeprefix("\ufeff").strip()
    if not s:
        raise EmptyText(f"line {line}: empty line")
    try:
        obj = json.loads(s)
    except json.JSONDecodeError as exc:
        raise MalformedLine(f"line {line}: invalid JSON ({exc.msg} at column {exc.colno})") from exc
    if not isinstance(obj, dict):
        raise MalformedLine(f"line {line}: expected a JSON object (a scenario)")
    if not isinstance(obj.get("messages"), list) or not obj["messages"]:
        raise MalformedLine(f"line {line}: field 'messages' must be a non-empty list")
    return obj


def _advise_one(sc: dict[str, Any], line: int, now: datetime | None, lib: Any) -> dict[str, Any]:
    # lazy: the guidance modules load only to advise; keeps `gracedesk --help` fast
    from gracedesk.guidance.advice import advise as advise_fn

    when = _parse_now(sc["now"], f"line {line}: field 'now'") if sc.get("now") else now
    if when is None:
        when = datetime.now(UTC)  # the entry point reads the clock; the core never does
    situation = parse_situation(sc, error=InvalidScenario, edge_keys=None)
    current = situation.current
    context = {"messages": sc["messages"][:current], "customer": sc.get("customer") or {}}
    sig = gracedesk.analyze(situation.turns[current].text, context=context)
    g = advise_fn(sig, situation, now=when, library=lib)
    return {"id": sc.get("id"), **g.to_dict()}


@click.command()
@click.argument(
    "source", default="-", type=click.Path(exists=True, allow_dash=True, dir_okay=False)
)
@click.option(
    "--now",
    "now_text",
    metavar="ISO",
    help="The time to advise at (a scenario's own 'now' wins; default: the current time).",
)
@click.option(
    "--phrases",
    "phrases_dir",
    type=click.Path(exists=True, file_okay=False),
    help="Folder of *.toml phrase packs to use instead of the shipped library.",
)
@output_option()
def advise(source: str, now_text: str | None, phrases_dir: str | None, output: str) -> None:
    """Next de-escalation step, phrases, solutions and a hand-over packet per JSONL scenario."""
    # lazy: the guidance modules load only to advise; keeps `gracedesk --help` fast
    from gracedesk.guidance.phrases import Library

    try:
        now = _parse_now(now_text, "--now") if now_text else None
    except GracedeskError as exc:
        raise click.UsageError(exc.message) from exc
    try:
        if phrases_dir:
            files = sorted(Path(phrases_dir).glob("*.toml"))
            if not files:
                raise click.UsageError(f"--phrases {phrases_dir}: no *.toml phrase packs")
            lib = Library.from_texts({str(f): f.read_text(encoding="utf-8") for f in files})
        else:
            lib = Library.default()
    except GracedeskError as exc:
        raise click.ClickException(str(exc)) from exc

    def handle(batch: list[tuple[int, bytes]]) -> list[dict[str, Any]]:
        out = []
        for n, raw in batch:
            id_: Any = None
            try:
                sc = _scenario(raw, n)
                id_ = sc.get("id")
                out.append(_advise_one(sc, n, now, lib))
            except GracedeskError as exc:
                out.append(error_record(Item(n, id_, None, error=exc)))
        return out

    run_stream(source, output, handle, command="advise", noun="scenario", batch=1)
