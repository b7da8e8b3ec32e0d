"""An import from start to end: read the file, plan, store it batch by batch, resumably.

Each (file SHA-256, format) has one ``imports`` row. Its ``position`` counts the records of
the plan (:mod:`.arrange`, a pure function of the file) already committed, in the same
transaction as their rows, so an import killed at any point is continued by running it again:
the committed batches are not read twice. Importing a file that is done goes through it again
and skips every message already stored (the report then says so), which also catches up
a database restored from an older backup.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from gracedesk.channels.imports import BATCH, FORMATS
from gracedesk.channels.imports import batch as b
from gracedesk.channels.imports.arrange import arrange, rekey
from gracedesk.channels.imports.mbox import read_mbox
from gracedesk.channels.imports.records import Parsed, Rejection
from gracedesk.channels.imports.tabular import Limits, read_csv, read_jsonl
from gracedesk.channels.imports.twcs import read_twcs
from gracedesk.errors import ImportFailed
from gracedesk.service.desk import CHANNELS
from gracedesk.store import imports as stored

if TYPE_CHECKING:
    from gracedesk.service.desk import Desk
    from gracedesk.store import Store


@dataclass(frozen=True, slots=True)
class Options:
    """How to import: the file's format, batch size, whether to analyse, the support
    addresses (mbox: mail from them is the agent's) and the longest text accepted."""

    format: str
    batch: int = BATCH
    analyse: bool = True
    support: tuple[str, ...] = ()
    max_text_chars: int = 20_000


@dataclass(slots=True)
class Report:
    """What an import did, over all its runs (a resumed import adds to what it had done)."""

    import_id: int
    path: str
    format: str
    total: int  # records planned (the file's messages less the rejected ones)
    resumed_at: int  # records already committed when this run started (0: from the start)
    imported: int
    skipped: int
    rejections: list[Rejection] = field(default_factory=list)
    conversations: int = 0  # created by this run
    customers: int = 0  # created by this run

    @property
    def rejected(self) -> int:
        return len(self.rejections)


Progress = Callable[[int, int], None]  # (records done, records in all), after every batch


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read(path: Path, options: Options) -> Parsed:
    """The file's records and rejections, by its format's reader."""
    limits = Limits(options.max_text_chars, CHANNELS)
    if options.format == "csv":
        return read_csv(path, limits)
    if options.format == "jsonl":
        return read_jsonl(path, limits)
    if options.format == "twcs":
        return read_twcs(path, limits)
    if options.format == "mbox":
        return read_mbox(path, limits, options.support)
    raise ImportFailed(f"unknown format {options.format!r}; one of {', '.join(FORMATS)}")


def stored_threads(store: Store, parsed: Parsed) -> dict[str, str]:
    """In-file conversation key -> the stored conversation its first message answers (an
    earlier file's), found by the parent's channel message id."""
    wanted: dict[str, dict[str, str]] = defaultdict(dict)  # channel -> parent -> conversation
    for r in parsed.records:
        if r.parent is not None:
            wanted[r.channel].setdefault(r.parent, r.conversation)
    joins: dict[str, str] = {}
    with store.read_core() as conn:
        for channel, parents in wanted.items():
            for parent, ref in stored.stored_parents(conn, channel, list(parents)):
                joins.setdefault(parents[parent], ref)
    return joins


def _start(
    store: Store, path: Path, sha: str, fmt: str, *, now: datetime, rejected: int
) -> tuple[int, int]:
    """The import's row: ``(id, position)``. A new file starts at 0; a crashed one where it
    stopped; a finished one again from 0 (everything in it is then skipped or new)."""
    with store.write_core() as conn:
        return stored.start(conn, str(path), sha, fmt, now=now, rejected=rejected)


def run_import(
    desk: Desk,
    path: Path,
    options: Options,
    *,
    clock: Callable[[], datetime],
    progress: Progress | None = None,
) -> Report:
    """Import ``path``: every customer and conversation it names, every message not already
    stored, customer messages analysed in batches (unless ``options.analyse`` is off). Raises
    :class:`ImportFailed` when the file is missing or not the format at all; a bad record
    is a rejection in the report and never stops the import."""
    if options.format not in FORMATS:
        raise ImportFailed(f"unknown format {options.format!r}; one of {', '.join(FORMATS)}")
    if not path.is_file():
        raise ImportFailed(f"{path} does not exist or is not a file")
    sha = sha256_of(path)
    parsed = read(path, options)
    rekey(parsed, stored_threads(desk.store, parsed))
    plan = arrange(parsed)
    run_id, position = _start(
        desk.store, path, sha, options.format, now=clock(), rejected=len(parsed.rejections)
    )
    total = len(plan.records)
    report = Report(run_id, str(path), options.format, total, position, 0, 0, parsed.rejections)
    if progress is not None:
        progress(position, total)
    analyzer = desk.analyzer if options.analyse else None
    size = max(1, options.batch)
    for start in range(position, total, size):
        chunk = plan.records[start : start + size]
        counts = b.store_batch(
            desk.store,
            analyzer,
            chunk,
            plan,
            run_id=run_id,
            position=start + len(chunk),
            priority=desk.policy.default.priority,
            now=clock(),
        )
        report.conversations += counts.conversations
        report.customers += counts.customers
        if progress is not None:
            progress(start + len(chunk), total)
    with desk.store.write_core() as conn:
        report.imported, report.skipped = stored.finish(conn, run_id, position=total, now=clock())
    return report
