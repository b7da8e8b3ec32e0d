"""``gracedesk coach``: critique agent drafts, one JSON line out per JSONL line in.

Input lines are ``{"id", "draft", "customer_message"?, "customer_name"?, "tz"?, "limits"?}``
(a line that does not start with ``{`` is a plain draft; ``limits`` is what the agent may grant
alone, e.g. ``{"refund": 50}``). Output lines are
``{"id", "score", "politeness", "has", "findings", "commitments", "rewrite"}``; a line that cannot be used
gets ``{"id", "line", "error": {...}}`` in its place, as in ``gracedesk analyze``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import click

from gracedesk.cli.jsonl import MAX_LINE_BYTES, Item, error_record, run_stream
from gracedesk.errors import EmptyText, GracedeskError, MalformedLine
from gracedesk.model.clock import parse_iso

BATCH = 256


def parse_draft(raw: bytes, line: int) -> Item:
    """One input line -> an Item whose ``text`` is the draft and ``context`` the rest."""
    if len(raw) > MAX_LINE_BYTES:
        return Item(line, None, None, error=MalformedLine(f"line {line} is over the size limit"))
    s = raw.decode("utf-8", errors="replace").strip().removeprefix("\ufeff")
    if not s.startswith("{"):
        if not s:
            return Item(line, None, None, error=EmptyText(f"line {line}: draft is empty"))
        return Item(line, None, s, context={})
    try:
        obj = json.loads(s)
    except json.JSONDecodeError as exc:
        return Item(line, None, None, error=MalformedLine(f"line {line}: invalid JSON ({exc.msg})"))
    if not isinstance(obj, dict):
        return Item(line, None, None, error=MalformedLine(f"line {line}: expected a JSON object"))
    draft = obj.get("draft")
    if not isinstance(draft, str):
        kind = "missing" if draft is None else f"a {type(draft).__name__}, not a string"
        return Item(
            line, obj.get("id"), None, error=MalformedLine(f"line {line}: 'draft' is {kind}")
        )
    if not draft.strip():
        return Item(line, obj.get("id"), None, error=EmptyText(f"line {line}: draft is empty"))
    keys = ("customer_message", "customer_name", "tz", "limits")
    ctx = {k: obj[k] for k in keys if obj.get(k) is not None}
    return Item(line, obj.get("id"), draft, context=ctx)


@click.command()
@click.argument(
    "source", default="-", type=click.Path(exists=True, allow_dash=True, dir_okay=False)
)
@click.option(
    "--now", "now_iso", default=None, help="Time the drafts are sent (ISO 8601); default: now."
)
@click.option(
    "--tz", default="UTC", show_default=True, help="Customer time zone (IANA) when a line has none."
)
@click.option(
    "--tier",
    type=click.Choice(["fast", "accurate"]),
    default="fast",
    show_default=True,
    help="accurate: also read empathy, solutions and next steps in paraphrase (the encoder).",
)
def coach(source: str, now_iso: str | None, tz: str, tier: str) -> None:
    """Critique agent drafts: JSONL {"id","draft","customer_message"?} in, one JSON line out each."""
    from gracedesk.analysis.pipeline import get_analyzer
    from gracedesk.guidance.coach import CoachContext
    from gracedesk.guidance.coach import coach as run_coach
    from gracedesk.guidance.commitments import zone

    try:
        now = parse_iso(now_iso) if now_iso else datetime.now(UTC)
    except ValueError as exc:
        raise click.BadParameter(f"not an ISO 8601 time: {now_iso!r}", param_hint="--now") from exc
    try:
        zone(tz)
    except GracedeskError as exc:
        raise click.BadParameter(exc.message, param_hint="--tz") from exc
    analyzer = get_analyzer("fast")
    moves = None
    if tier == "accurate":
        from gracedesk.guidance.moves import load_detector

        moves = load_detector()

    def handle(lines: list[tuple[int, bytes]]) -> list[dict[str, Any]]:
        items = [parse_draft(raw, n) for n, raw in lines]
        asks = [it for it in items if it.error is None and it.context.get("customer_message")]
        sigs = analyzer.analyze_many([str(it.context["customer_message"]) for it in asks])
        by_item = {id(it): s for it, s in zip(asks, sigs, strict=True)}
        out: list[dict[str, Any]] = []
        for it in items:
            if it.error is None:
                try:
                    ctx = CoachContext.from_mapping(
                        {**it.context, "signals": by_item.get(id(it)), "now": now}
                        | {"tz": it.context.get("tz") or tz}
                    )
                    out.append({"id": it.id, **run_coach(str(it.text), ctx, moves=moves).to_dict()})
                    continue
                except GracedeskError as exc:
                    it.error = exc
            out.append(error_record(it))
        return out

    run_stream(source, "-", handle, command="coach", noun="draft", batch=BATCH)
