"""The import's readers and planner on the fixtures in tests/data/import: records, threads,
rejections with their line numbers, and files that are not the format at all (no store)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from gracedesk.channels.imports.arrange import Plan, arrange, chain_roots
from gracedesk.channels.imports.mbox import html_text, normalised_subject, strip_quotes
from gracedesk.channels.imports.run import Options, read
from gracedesk.channels.imports.twcs import tweet_id, twitter_time
from gracedesk.errors import ImportFailed

DATA = Path(__file__).resolve().parents[1] / "data" / "import"
SUPPORT = ("support@acme.example",)


def plan(name: str, fmt: str) -> tuple[Plan, list[tuple[int, str]]]:
    parsed = read(DATA / name, Options(fmt, support=SUPPORT))
    p = arrange(parsed)
    return p, [(r.line, r.reason) for r in parsed.rejections]


@pytest.mark.parametrize(
    ("name", "fmt", "rejected"),
    [
        (
            "support.csv",
            "csv",
            [
                (8, "empty text"),
                (9, "bad date 'yesterday'"),
                (10, "unknown author value 'boss'"),
                (11, "missing column 'customer'"),
                (13, "unknown channel 'fax'"),
            ],
        ),  # line 5 holds a text over two lines: the rows after it keep their real lines
        (
            "support.jsonl",
            "jsonl",
            [
                (4, "not valid JSON"),
                (5, "a JSON list, not an object"),
                (6, "empty text"),
                (7, "missing column 'text'"),
                (8, "bad date '2026-09-31T10:00:00Z'"),  # no 31st of September
                (9, "column 'text' is a JSON dict"),
                (11, "unknown status 'closed'"),  # line 10 is blank
            ],
        ),
        (
            "twcs.csv",
            "twcs",
            [
                (11, "conversation 'twitter:30' has no customer"),  # the company only
                (12, "bad date 'not a date'"),
                (13, "unknown inbound value 'maybe'"),
                (14, "empty text"),
                (15, "duplicate tweet_id '1' (first at line 3)"),
            ],
        ),
        (
            "support.mbox",
            "mbox",
            [
                (64, "bad date 'sometime last week'"),
                (73, "no sender address"),
                (80, "empty text"),  # nothing but a quote
            ],
        ),
    ],
)
def test_rejections_name_the_line_and_the_reason(
    name: str, fmt: str, rejected: list[tuple[int, str]]
) -> None:
    _, got = plan(name, fmt)
    assert [line for line, _ in got] == [line for line, _ in rejected], got
    for (_, reason), (_, expected) in zip(got, rejected, strict=True):
        assert expected in reason, (reason, expected)


def test_csv_records_times_ids_and_conversations() -> None:
    p, _ = plan("support.csv", "csv")
    by_id = {r.message_id: r for r in p.records}
    assert by_id["m-1"].at == datetime(2026, 10, 1, 7, 0, tzinfo=UTC)  # +02:00 to UTC
    sam = next(r for r in p.records if r.conversation == "c-200" and r.author == "customer")
    assert sam.at == datetime(2026, 10, 3, 14, 0, tzinfo=UTC)  # no offset: UTC
    assert sam.text.startswith("Where is my parcel?\nIt has been")
    assert sam.message_id.startswith("h:")  # no message_id: a hash of the message
    again, _ = plan("support.csv", "csv")
    assert sam.message_id in {r.message_id for r in again.records}  # ... the same every time
    assert p.owners["c-100"].name == "Dana Reyes" and p.owners["c-100"].email == "dana@example.com"
    assert p.subjects == {"c-100": "Broken order", "c-600": "Invoice"}
    assert p.statuses == {
        "c-100": "resolved",
        "c-200": "open",
        "c-600": "resolved",
        "c-300": "resolved",
    }
    # conversations whole, oldest first; in each, messages oldest first
    assert [r.message_id for r in p.records if r.conversation == "c-100"] == ["m-1", "m-2", "m-3"]
    convs = list(dict.fromkeys(r.conversation for r in p.records))
    assert convs == ["c-100", "c-200", "c-600", "c-300"]


def test_twcs_threads_by_the_reply_chain() -> None:
    p, _ = plan("twcs.csv", "twcs")
    threads: dict[str, list[str]] = {}
    for r in p.records:
        threads.setdefault(r.conversation, []).append(r.message_id)
    # the file is not sorted; "3.0" is tweet 3; tweet 3 answers 2 which answers 1
    assert threads == {
        "twitter:1": ["1", "2", "3", "4", "5"],
        "twitter:10": ["10", "11"],  # 10 answers tweet 9, not in the file: its own thread
        "twitter:20": ["20", "21"],
    }
    assert p.owners["twitter:1"].external_id == "twitter:115712"  # the first customer
    assert p.owners["twitter:10"].external_id == "twitter:115800"  # the company wrote first
    ten = next(r for r in p.records if r.message_id == "10")
    assert ten.parent == "9" and ten.author == "agent" and ten.party is None
    five = next(r for r in p.records if r.message_id == "5")
    assert five.author == "customer" and five.party is not None
    assert five.party.external_id == "twitter:115999"  # another customer joined the thread


def test_mbox_threads_by_headers_then_subject_and_cuts_quotes() -> None:
    p, _ = plan("support.mbox", "mbox")
    threads: dict[str, list[str]] = {}
    for r in p.records:
        threads.setdefault(r.conversation, []).append(r.message_id)
    assert threads == {
        # In-Reply-To, References only, then the same customer and subject without headers
        "email:<a1@example.com>": [
            "<a1@example.com>",
            "<s1@acme.example>",
            "<a2@example.com>",
            "<a3@example.com>",
        ],
        "email:<b1@example.org>": ["<b1@example.org>"],
    }
    by_id = {r.message_id: r for r in p.records}
    reply = by_id["<s1@acme.example>"]
    assert reply.author == "agent"
    assert reply.text == "Hi Dana, I am sorry about this. A refund is on its way.\n\nBest,"
    assert by_id["<a2@example.com>"].text == "Thanks, but the refund has still not arrived."
    assert by_id["<b1@example.org>"].text == "I can't reset my password, the link expires at once."
    owner = p.owners["email:<a1@example.com>"]
    assert (owner.external_id, owner.name, owner.email) == (
        "email:dana@example.com",
        "Dana Reyes",
        "dana@example.com",
    )
    assert by_id["<a3@example.com>"].subject == "Broken blender"


@pytest.mark.parametrize(
    ("text", "new"),
    [
        ("Thanks.\n\nOn Mon, 1 Jan 2026, Acme wrote:\n> old", "Thanks."),  # client quote
        ("Yes.\n-- \nDana\n555-0100", "Yes."),  # signature
        ("Fine.\n-----Original Message-----\nFrom: x", "Fine."),  # Outlook
        ("> only quoted", ""),  # nothing new
    ],
)
def test_strip_quotes(text: str, new: str) -> None:
    assert strip_quotes(text) == new


def test_small_parsers() -> None:
    assert normalised_subject("RE: Fwd: [Ticket #12]  Broken   Blender") == "broken blender"
    assert html_text("<p>a&amp;b</p><script>x()</script><p>c<br>d</p>") == "a&b\n\nc\nd"
    assert tweet_id("119237.0") == "119237" and tweet_id("") is None and tweet_id("nan") is None
    assert twitter_time("Tue Oct 31 22:10:47 +0000 2017") == datetime(
        2017, 10, 31, 22, 10, 47, tzinfo=UTC
    )
    assert twitter_time("Tue Oct 31 22:10:47 +0200 2017").hour == 20  # other offsets: strptime
    root, depth = chain_roots({"a": None, "b": "a", "c": "b", "x": "y", "y": "x"})
    assert root["c"] == "a" and depth["c"] == 2
    assert root["x"] == root["y"]  # a cycle is one thread


@pytest.mark.parametrize(
    ("content", "fmt", "says"),
    [
        ("a,b\n1,2\n", "csv", "the header row lacks conversation, customer"),  # other columns
        ("", "csv", "is empty"),
        ("tweet_id,text\n1,hi\n", "twcs", "the header lacks author_id"),
        ("hello\nworld\n", "jsonl", "has no JSON object on any line"),
        ("", "jsonl", "is empty"),
        ("conversation,customer\n", "mbox", "not an mbox file"),
        (b"\xff\xfe\x00c\x00s\x00v", "csv", "not UTF-8 text"),  # UTF-16
    ],
)
def test_a_file_not_of_the_format_is_refused(
    tmp_path: Path, content: str | bytes, fmt: str, says: str
) -> None:
    path = tmp_path / "archive"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(ImportFailed, match=says):
        read(path, Options(fmt, support=SUPPORT))
