"""The Twitter customer-support layout (Kaggle "Customer Support on Twitter", ``twcs.csv``).

Header ``tweet_id,author_id,inbound,created_at,text,response_tweet_id,in_response_to_tweet_id``;
``inbound`` True is the customer, False the company; ``created_at`` like
``Tue Oct 31 22:10:47 +0000 2017``; ``response_tweet_id`` may list several ids. The file is not
sorted, so threads are built after reading it all: a tweet's conversation is the one of the
root of its reply chain (``in_response_to_tweet_id`` followed up while the parent is in the
file). A reply whose parent is not in the file starts its own conversation, unless the store
already holds that parent (an earlier file): then it joins that conversation.
"""

from __future__ import annotations

import csv
import re
from datetime import UTC, datetime
from pathlib import Path

from gracedesk.channels.imports.arrange import chain_roots
from gracedesk.channels.imports.records import (
    ID_CHARS,
    Parsed,
    Party,
    Record,
    Rejected,
)
from gracedesk.channels.imports.tabular import FIELD_LIMIT, Limits, csv_rows, text_lines
from gracedesk.errors import ImportFailed

CHANNEL = "twitter"
HEADER = (
    "tweet_id",
    "author_id",
    "inbound",
    "created_at",
    "text",
    "response_tweet_id",
    "in_response_to_tweet_id",
)
REQUIRED = ("tweet_id", "author_id", "inbound", "created_at", "text", "in_response_to_tweet_id")
TIME_FORMAT = "%a %b %d %H:%M:%S %z %Y"
_FLOAT_ID = re.compile(r"(\d+)\.0+")  # pandas wrote the parent ids as floats: 119237.0
_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})


def tweet_id(value: str | None) -> str | None:
    """A tweet id as written, or ``None`` for an empty cell (``3.0`` is tweet ``3``)."""
    v = (value or "").strip()
    if not v or v.lower() == "nan":
        return None
    m = _FLOAT_ID.fullmatch(v)
    return m.group(1) if m else v


_MONTHS = {  # English whatever the locale (calendar.month_abbr follows it)
    m: i
    for i, m in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}


def twitter_time(value: str) -> datetime:
    """``Tue Oct 31 22:10:47 +0000 2017`` as an aware UTC time. Read by hand when it is in
    that exact shape (``strptime`` costs five times more, on every row of a large file)."""
    parts = value.split()
    try:
        if len(parts) == 6 and parts[4] == "+0000" and parts[1] in _MONTHS:
            hh, mm, ss = parts[3].split(":")
            return datetime(
                int(parts[5]), _MONTHS[parts[1]], int(parts[2]), int(hh), int(mm), int(ss),
                tzinfo=UTC,
            )  # fmt: skip
        return datetime.strptime(value.strip(), TIME_FORMAT).astimezone(UTC)
    except ValueError:
        raise Rejected(
            f"bad date {value[:60]!r} (expected like 'Tue Oct 31 22:10:47 +0000 2017')"
        ) from None


class _Tweet:
    __slots__ = ("at", "author", "inbound", "line", "parent", "text", "tweet")

    def __init__(
        self,
        line: int,
        tweet: str,
        author: str,
        inbound: bool,
        at: datetime,
        text: str,
        parent: str | None,
    ) -> None:
        self.line, self.tweet, self.author, self.inbound = line, tweet, author, inbound
        self.at, self.text, self.parent = at, text, parent


def read_twcs(path: Path, limits: Limits) -> Parsed:
    """Read, check and thread the tweets (see the module's docstring)."""
    csv.field_size_limit(max(csv.field_size_limit(), FIELD_LIMIT))
    out = Parsed()
    tweets: dict[str, _Tweet] = {}
    answered: dict[str, str] = {}  # reply -> the tweet that lists it in response_tweet_id
    with text_lines(path) as fh:
        reader = csv.reader(fh)
        try:
            header = [h.strip().lower() for h in next(reader)]
        except StopIteration:
            raise ImportFailed(f"{path} is empty: a twcs import needs its header row") from None
        except csv.Error as exc:
            raise ImportFailed(f"{path} is not a twcs file: {exc}") from None
        missing = [c for c in REQUIRED if c not in header]
        if missing:
            raise ImportFailed(
                f"{path} is not a twcs file: the header lacks {', '.join(missing)} "
                f"(expected {','.join(HEADER)})"
            )
        col = {name: header.index(name) for name in HEADER if name in header}
        end = reader.line_num
        for row in csv_rows(reader, path):
            line, end = end + 1, reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            try:
                t = _tweet(row, col, line, limits)
            except Rejected as exc:
                out.reject(line, str(exc))
                continue
            first = tweets.get(t.tweet)
            if first is not None:
                out.reject(line, f"duplicate tweet_id {t.tweet!r} (first at line {first.line})")
                continue
            tweets[t.tweet] = t
            listed = col.get("response_tweet_id")
            if listed is not None and listed < len(row):
                for reply in row[listed].split(","):
                    rid = tweet_id(reply)
                    if rid is not None:
                        answered.setdefault(rid, t.tweet)
    _thread(tweets, answered, out)
    return out


def _tweet(row: list[str], col: dict[str, int], line: int, limits: Limits) -> _Tweet:
    def cell(name: str) -> str:
        i = col[name]
        if i >= len(row):
            raise Rejected(f"missing column {name!r}")
        return row[i]

    tid = tweet_id(cell("tweet_id"))
    if tid is None:
        raise Rejected("missing column 'tweet_id'")
    if len(tid) > ID_CHARS - len("twitter:"):
        raise Rejected("tweet_id too long")
    author = cell("author_id").strip()
    if not author:
        raise Rejected("missing column 'author_id'")
    flag = cell("inbound").strip().lower()
    if flag not in _TRUE | _FALSE:
        raise Rejected(f"unknown inbound value {flag[:20]!r} (True or False)")
    text = cell("text")
    if not text.strip():
        raise Rejected("empty text")
    if len(text) > limits.max_text_chars:
        raise Rejected(f"text of {len(text)} characters (at most {limits.max_text_chars})")
    at = twitter_time(cell("created_at"))
    return _Tweet(
        line, tid, author, flag in _TRUE, at, text, tweet_id(cell("in_response_to_tweet_id"))
    )


def _thread(tweets: dict[str, _Tweet], answered: dict[str, str], out: Parsed) -> None:
    parent: dict[str, str | None] = {
        tid: t.parent or answered.get(tid) for tid, t in tweets.items()
    }
    root, depth = chain_roots(parent)
    for tid, t in tweets.items():
        r = root[tid]
        out.records.append(
            Record(
                line=t.line,
                conversation=f"{CHANNEL}:{r}",
                author="customer" if t.inbound else "agent",
                text=t.text,
                at=t.at,
                channel=CHANNEL,
                message_id=tid,
                party=Party(f"{CHANNEL}:{t.author}") if t.inbound else None,
                meta={"author_id": t.author},
                parent=parent[tid] if r == tid and parent[tid] not in tweets else None,
                depth=depth[tid],
            )
        )
