"""CSV and JSON Lines archives: one message per row (or line) with the same documented columns.

=================  =========  ==========================================================
column             required   meaning
=================  =========  ==========================================================
``conversation``   yes        the archive's conversation key (``conversations.external_ref``)
``customer``       yes\\*      the customer's external id (\\*on agent rows it may be empty)
``customer_name``             the customer's name (fills an empty name in the desk)
``customer_email``            the customer's e-mail address (likewise)
``author``         yes        ``customer`` or ``agent``
``text``           yes        the message; empty text is rejected
``created_at``     yes        ISO 8601; without an offset the time is UTC
``channel``                   one of the desk's channels; default ``import``
``message_id``                the channel's message id; default a hash of conversation,
                              time and text (so a file without ids still imports once)
``subject``                   the conversation's subject (its first row that has one)
``status``                    ``open`` or ``resolved`` (default: archives are resolved)
=================  =========  ==========================================================
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gracedesk.channels.imports.records import (
    AUTHORS,
    ID_CHARS,
    STATUSES,
    Parsed,
    Party,
    Record,
    Rejected,
    bounded,
    parse_time,
    stable_id,
)
from gracedesk.errors import ImportFailed

REQUIRED = ("conversation", "customer", "author", "text", "created_at")
OPTIONAL = ("customer_name", "customer_email", "channel", "message_id", "subject", "status")
DEFAULT_CHANNEL = "import"
FIELD_LIMIT = 16 * 1024 * 1024  # bytes in one CSV field (the csv module's default is 128 KiB)


@dataclass(frozen=True, slots=True)
class Limits:
    """What a record may be: the longest text, and the channels the desk knows."""

    max_text_chars: int
    channels: tuple[str, ...]


def record(get: Callable[[str], str | None], line: int, limits: Limits) -> Record:
    """One row's record (``get(column)``: its value, ``None`` when absent); raises
    :class:`Rejected` with the first problem found."""

    def need(name: str) -> str:
        value = get(name)
        if value is None or not value.strip():
            raise Rejected(f"missing column {name!r}")
        return value

    conversation = need("conversation").strip()
    author = need("author").strip().lower()
    if author not in AUTHORS:
        raise Rejected(f"unknown author value {author[:40]!r} (customer or agent)")
    text = get("text")
    if text is None:
        raise Rejected("missing column 'text'")
    if not text.strip():
        raise Rejected("empty text")
    if len(text) > limits.max_text_chars:
        raise Rejected(f"text of {len(text)} characters (at most {limits.max_text_chars})")
    at = parse_time(need("created_at"))
    channel = (get("channel") or "").strip() or DEFAULT_CHANNEL
    if channel not in limits.channels:
        raise Rejected(f"unknown channel {channel[:40]!r} (one of {', '.join(limits.channels)})")
    customer = (get("customer") or "").strip()
    if not customer and author == "customer":
        raise Rejected("missing column 'customer'")
    if len(customer) > ID_CHARS:
        raise Rejected(f"customer id longer than {ID_CHARS} characters")
    status = (get("status") or "").strip().lower() or None
    if status is not None and status not in STATUSES:
        raise Rejected(f"unknown status {status[:40]!r} (open or resolved)")
    email = (get("customer_email") or "").strip() or None
    party = (
        Party(customer, (get("customer_name") or "").strip()[:200] or None, email and email[:254])
        if customer
        else None
    )
    given = (get("message_id") or "").strip()
    message_id = bounded(given) if given else stable_id(conversation, at.isoformat(), text)
    return Record(
        line=line,
        conversation=bounded(conversation),
        author=author,
        text=text,
        at=at,
        channel=channel,
        message_id=message_id,
        party=party,
        subject=(get("subject") or "").strip()[:300] or None,
        status=status,
    )


def _missing(header: list[str]) -> list[str]:
    return [c for c in REQUIRED if c not in header]


def read_csv(path: Path, limits: Limits) -> Parsed:
    """A CSV file with a header row naming the columns (any order; extra columns ignored)."""
    csv.field_size_limit(max(csv.field_size_limit(), FIELD_LIMIT))
    out = Parsed()
    with text_lines(path) as fh:
        reader = csv.reader(fh)
        try:
            header = [h.strip().lower() for h in next(reader)]
        except StopIteration:
            raise ImportFailed(f"{path} is empty: a csv import needs a header row") from None
        except csv.Error as exc:
            raise ImportFailed(f"{path} is not a csv file: {exc}") from None
        missing = _missing(header)
        if missing:
            raise ImportFailed(
                f"{path} is not a gracedesk csv file: the header row lacks "
                f"{', '.join(missing)} (it has {', '.join(header[:12]) or 'nothing'})"
            )
        index = {name: i for i, name in enumerate(header) if name in REQUIRED + OPTIONAL}
        end = reader.line_num
        for row in csv_rows(reader, path):
            line, end = end + 1, reader.line_num
            if not any(cell.strip() for cell in row):
                continue  # a blank line

            def get(name: str, row: list[str] = row) -> str | None:
                i = index.get(name)
                return row[i] if i is not None and i < len(row) else None

            try:
                if len(row) > len(header):
                    raise Rejected(
                        f"{len(row)} fields where the header has {len(header)} "
                        "(a comma in an unquoted text?)"
                    )
                out.records.append(record(get, line, limits))
            except Rejected as exc:
                out.reject(line, str(exc))
    return out


def csv_rows(reader: Any, path: Path) -> Iterator[list[str]]:
    """The reader's rows; a row the csv module cannot read makes the file not csv."""
    while True:
        try:
            yield next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise ImportFailed(f"{path}: line {reader.line_num}: not csv ({exc})") from None


def read_jsonl(path: Path, limits: Limits) -> Parsed:
    """JSON Lines: one object per line with the csv columns as keys."""
    out = Parsed()
    objects = 0
    with text_lines(path) as fh:
        for line, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw)
            except json.JSONDecodeError as exc:
                out.reject(line, f"not valid JSON ({exc.msg}, column {exc.colno})")
                continue
            if not isinstance(obj, dict):
                out.reject(line, f"a JSON {type(obj).__name__}, not an object")
                continue
            objects += 1
            try:
                out.records.append(record(_getter(obj), line, limits))
            except Rejected as exc:
                out.reject(line, str(exc))
    if not objects:
        what = "is empty" if not out.rejections else "has no JSON object on any line"
        raise ImportFailed(f"{path} {what}: a jsonl import needs one object per line")
    return out


def _getter(obj: dict[str, Any]) -> Callable[[str], str | None]:
    def get(name: str) -> str | None:
        value = obj.get(name)
        if value is None:
            return None
        if isinstance(value, str):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        raise Rejected(f"column {name!r} is a JSON {type(value).__name__}, not a string")

    return get


@contextmanager
def text_lines(path: Path) -> Iterator[Iterator[str]]:
    """The file's lines as UTF-8 text (a BOM is skipped); undecodable bytes make it not this
    format."""
    with path.open(encoding="utf-8-sig", newline="") as fh:
        yield _decoded(fh, path)


def _decoded(fh: Any, path: Path) -> Iterator[str]:
    while True:
        try:
            line = fh.readline()
        except UnicodeDecodeError as exc:
            raise ImportFailed(f"{path} is not UTF-8 text ({exc.reason})") from None
        if not line:
            return
        yield line
