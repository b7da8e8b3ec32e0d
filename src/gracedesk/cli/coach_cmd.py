"""``gracedesk coach``: critique agent drafts, one JSON line out per JSONL line in.

Input lines are ``{"id", "draft", "customer_message"?, "customer_name"?, "tz"?, "limits"?}``
(a line that does not start with ``{`` is a plain draft; ``limits`` is what the agent may grant
alone, e.g. ``{"refund": 50}``). Output lines are
``{"id", "score", "politeness", "has", "findings", "commitments", "rewrite"}``; a line that cannot be used
gets ``{"id", "line", "error": {...}}`` in its place, as in ``gracedesk analyze``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import click

from gracedesk.cli.jsonl import MAX_LINE_BYTES, Item, error_record, run_stream
from gracedesk.errors import EmptyText, GracedeskError, InvalidCoachContext, MalformedLine
from gracedesk.model.clock import parse_iso
from gracedesk.model.situation import AgentProfile, CustomerHistory, Situation, Turn

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


def situation_of(context: Mapping[str, Any]) -> Situation:
    """A line's context (``customer_message``, ``customer_name``, ``limits``) as the Situation
    the coach reads; raises ``InvalidCoachContext`` naming the bad key. A limit not given is not
    checked."""
    # lazy: guidance.coach loads numpy (paraphrase moves); the CLI starts without it
    from gracedesk.guidance.coach import authority_from_limits

    for key in ("customer_message", "customer_name", "tz"):
        if context.get(key) is not None and not isinstance(context[key], str):
            raise InvalidCoachContext(f"{key}: expected a string")
    limits = context.get("limits")
    if limits is not None and not (
        isinstance(limits, Mapping)
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in limits.values())
    ):
        raise InvalidCoachContext("limits: expected an object of numbers")
    message = context.get("customer_message")
    return Situation(
        turns=(Turn("customer", message),) if message and message.strip() else (),
        customer=CustomerHistory(name=context.get("customer_name") or None),
        agent=AgentProfile(authority=authority_from_limits(limits or {})),
    )


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
    # lazy: the analyzer and the coach load numpy and scipy; keeps `gracedesk --help` fast
    from gracedesk.analysis.pipeline import get_analyzer
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
        # lazy: the move detector loads the accurate tier's encoder (onnxruntime)
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
                    critique = run_coach(
                        str(it.text),
                        situation_of(it.context),
                        now=now,
                        signals=by_item.get(id(it)),
                        tz=it.context.get("tz") or tz,
                        moves=moves,
                    )
                    out.append({"id": it.id, **critique.to_dict()})
                    continue
                except GracedeskError as exc:
                    it.error = exc
            out.append(error_record(it))
        return out

    run_stream(source, "-", handle, command="coach", noun="draft", batch=BATCH)
