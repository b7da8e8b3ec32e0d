"""From parsed records to the order they are stored in: conversations whole, oldest first.

The order is a pure function of the file (never of the store), so that ``imports.position``
(how many records of this order are committed) means the same thing when a crashed import is
run again. Within a conversation, messages are stored oldest first, so their ids follow time
as the live path's do (the context reads a conversation's newest messages by id).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from gracedesk.channels.imports.records import Parsed, Party, Record


@dataclass(frozen=True, slots=True)
class Plan:
    """The records to store, in order; per conversation, the customer it belongs to, the
    status the archive gives it (the last one its records give; default ``resolved``) and
    its subject (the first one its records give)."""

    records: list[Record]
    owners: dict[str, Party]
    statuses: dict[str, str]
    subjects: dict[str, str]


def chain_roots(parent: Mapping[str, str | None]) -> tuple[dict[str, str], dict[str, int]]:
    """Each message's thread root and depth, following ``parent`` (message id -> the id it
    answers) while the parent is among the keys. A cycle is cut where it is found."""
    root: dict[str, str] = {}
    depth: dict[str, int] = {}
    for start in parent:
        path: list[str] = []
        on_path: set[str] = set()
        cur = start
        while cur not in root:
            p = parent[cur]
            if p is None or p not in parent or p in on_path or p == cur:
                root[cur], depth[cur] = cur, 0
                break
            path.append(cur)
            on_path.add(cur)
            cur = p
        for node in reversed(path):
            up = parent[node]
            assert up is not None
            root[node], depth[node] = root[up], depth[up] + 1
    return root, depth


def rekey(parsed: Parsed, joins: dict[str, str]) -> None:
    """Move records to the stored conversation a reply joins (``joins``: in-file conversation
    key -> the stored conversation's key). In place."""
    if joins:
        parsed.records = [
            replace(r, conversation=joins[r.conversation]) if r.conversation in joins else r
            for r in parsed.records
        ]


def owner_of(records: Iterable[Record]) -> Party | None:
    """A conversation's customer: the author of its first customer message, else the customer
    its first agent message names (an archive may start with the company writing)."""
    named: Party | None = None
    for r in records:
        if r.party is None:
            continue
        if r.author == "customer":
            return r.party
        named = named or r.party
    return named


def arrange(parsed: Parsed) -> Plan:
    """Drop in-file duplicates (the first copy stays) and conversations without a customer,
    each with a rejection naming its line; order what is left."""
    seen: dict[tuple[str, str], int] = {}
    groups: dict[str, list[Record]] = {}
    for r in sorted(parsed.records, key=lambda r: r.line):
        first = seen.get((r.channel, r.message_id))
        if first is not None:
            parsed.reject(r.line, f"duplicate message id {r.message_id!r} (first at line {first})")
            continue
        seen[(r.channel, r.message_id)] = r.line
        groups.setdefault(r.conversation, []).append(r)
    owners: dict[str, Party] = {}
    statuses: dict[str, str] = {}
    subjects: dict[str, str] = {}
    ordered: list[tuple[Record, list[Record]]] = []
    for key, rs in groups.items():
        rs.sort(key=lambda r: (r.at, r.depth, r.line))
        owner = owner_of(rs)
        if owner is None:
            for r in rs:
                parsed.reject(
                    r.line,
                    f"conversation {key!r} has no customer (no customer message, and no "
                    "agent message names one)",
                )
            continue
        owners[key] = owner
        statuses[key] = next((r.status for r in reversed(rs) if r.status), "resolved")
        subject = next((r.subject for r in rs if r.subject), None)
        if subject is not None:
            subjects[key] = subject
        ordered.append((rs[0], rs))
    ordered.sort(key=lambda g: (g[0].at, g[0].conversation))
    parsed.rejections.sort(key=lambda x: x.line)
    return Plan([r for _, rs in ordered for r in rs], owners, statuses, subjects)
