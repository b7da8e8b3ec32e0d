"""Streaming JSONL in and out for ``gracedesk analyze``: one output line per input line, in order.

A line is a JSON object ``{"id": ..., "text": ..., "context"?: {...}}`` or, when it does not start
with ``{``, plain text. Bytes that are not UTF-8 are replaced (U+FFFD) and the rest of the line is
analysed. A line that cannot be used gets an error object in its place::

    {"id": null, "line": 7, "error": {"code": "GD102", "type": "MalformedLine", "message": "..."}}
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any

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


def read_lines(fh: IO[bytes], max_bytes: int = MAX_LINE_BYTES) -> Iterator[bytes]:
    """Lines of a binary stream, each cut at ``max_bytes`` + 1 bytes so memory stays bounded
    (the rest of an over-long line is read and dropped; :func:`parse_line` reports it)."""
    while True:
        raw = fh.readline(max_bytes + 1)
        if not raw:
            return
        if len(raw) > max_bytes and not raw.endswith(b"\n"):
            rest = fh.readline(1 << 20)
            while rest and not rest.endswith(b"\n"):
                rest = fh.readline(1 << 20)
        yield raw


def output_option() -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The ``-o/--output`` option every JSONL command shares."""
    # lazy: keeps `gracedesk --help` fast
    import click

    return click.option(
        "-o",
        "--output",
        type=click.Path(dir_okay=False, allow_dash=True),
        default="-",
        help="Where to write JSON lines (default: standard output).",
    )


Handler = Callable[[list[tuple[int, bytes]]], list[dict[str, Any]]]


def run_stream(
    source: str, output: str, handle: Handler, *, command: str, noun: str, batch: int = 512
) -> None:
    """The shared loop of the JSONL commands: one output record per input line, in order.

    ``handle`` gets a batch of ``(line number, raw bytes)`` and returns one record per line; a
    record with an ``"error"`` key counts as a bad line. Output is flushed after each batch (so
    results stream), a progress bar shows on a terminal, and the command exits 1 only when no
    line of the input was usable.
    """
    # lazy: keeps `gracedesk --help` fast
    import click

    fin = sys.stdin.buffer if source == "-" else open(source, "rb")  # noqa: SIM115
    fout = sys.stdout if output == "-" else open(output, "w", encoding="utf-8")  # noqa: SIM115
    progress = None
    if sys.stderr.isatty():
        # lazy: keeps `gracedesk --help` fast
        from tqdm import tqdm

        progress = tqdm(unit=" lines", file=sys.stderr)
    ok = bad = 0

    def flush(pending: list[tuple[int, bytes]]) -> None:
        nonlocal ok, bad
        for rec in handle(pending):
            bad += "error" in rec
            ok += "error" not in rec
            fout.write(dumps(rec) + "\n")
        fout.flush()
        if progress is not None:
            progress.update(len(pending))

    try:
        pending: list[tuple[int, bytes]] = []
        for n, raw in enumerate(read_lines(fin), start=1):
            pending.append((n, raw))
            if len(pending) >= batch:
                flush(pending)
                pending = []
        if pending:
            flush(pending)
    finally:
        if progress is not None:
            progress.close()
        if fin is not sys.stdin.buffer:
            fin.close()
        if fout is not sys.stdout:
            fout.close()
    if ok == 0:
        click.echo(
            f"gracedesk {command}: no usable {noun} in the input ({bad} bad line(s))", err=True
        )
        sys.exit(1)
    if bad:
        click.echo(f"gracedesk {command}: {ok} done, {bad} line(s) with errors", err=True)
