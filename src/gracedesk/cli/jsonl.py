"""Streaming JSONL in and out for ``gracedesk analyze``: one output line per input line, in order.

A line is a JSON object ``{"id": ..., "text": ..., "context"?: {...}}`` or, when it does not start
with ``{``, plain text. Bytes that are not UTF-8 are replaced (U+FFFD) and the rest of the line is
analysed. A line that cannot be used gets an error object in its place::

    {"id": null, "line": 7, "error": {"code": "GD102", "type": "MalformedLine", "message": "..."}}
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from gracedesk.errors import EmptyText, GracedeskError, MalformedLine

MAX_LINE_BYTES = 4 * 1024 * 1024


@dataclass(slots=True)
class Item:
    line: int
    id: Any
    text: str | None
    context: Any = None
    error: GracedeskError | None = None


def parse_line(raw: bytes, line: int) -> Item:
    if len(raw) > MAX_LINE_BYTES:
        return Item(
            line, None, None, error=MalformedLine(f"line {line} is over {MAX_LINE_BYTES} bytes")
        )
    s = raw.decode("utf-8", errors="replace").rstrip("\r\n")
    if s.startswith("\ufeff"):
        s = s[1:]
    if s.lstrip().startswith("{"):
        try:
            obj = json.loads(s)
        except json.JSONDecodeError as exc:
            return Item(
                line,
                None,
                None,
                error=MalformedLine(f"line {line}: invalid JSON ({exc.msg} at column {exc.colno})"),
            )
        if not isinstance(obj, dict):
            return Item(
                line, None, None, error=MalformedLine(f"line {line}: expected a JSON object")
            )
        id_ = obj.get("id")
        text = obj.get("text")
        if not isinstance(text, str):
            kind = "missing" if text is None else f"a {type(text).__name__}, not a string"
            return Item(
                line, id_, None, error=MalformedLine(f"line {line}: field 'text' is {kind}")
            )
        item = Item(line, id_, text, context=obj.get("context"))
    else:
        item = Item(line, None, s)
    if not item.text or not item.text.strip():
        item.error = EmptyText(f"line {line}: text is empty or only whitespace")
        item.text = None
    return item


def read_items(lines: Iterable[bytes]) -> Iterator[Item]:
    for n, raw in enumerate(lines, start=1):
        yield parse_line(raw, n)


def error_record(item: Item) -> dict[str, Any]:
    assert item.error is not None
    return {"id": item.id, "line": item.line, "error": item.error.to_dict()}


def dumps(obj: dict[str, Any]) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
