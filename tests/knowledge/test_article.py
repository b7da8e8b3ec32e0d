"""Articles as data: front matter checked field by field, bodies cut into passages with spans."""

from __future__ import annotations

from datetime import date

import pytest

from gracedesk.knowledge import ArticleInvalid, content_hash, parse, passages, plain
from gracedesk.knowledge.quotes import quoted
from gracedesk.knowledge.triggers import reasons

GOOD = """---
id: refunds
title: Refunds
tags: [refund, money back]
audience: customer
updated: 2026-11-01
policy_rules: [refund-over-authority]
---
# Refunds

You can ask for your money back within 30 days of delivery.

## How long it takes

Once we approve a refund, the money reaches your bank in 5 to 10 working days. Your bank may
take a little longer to show it on your statement, and a card refund can show as pending first.

Short note.
"""


def test_a_good_article_parses() -> None:
    a = parse(GOOD, source="refunds.md")
    assert (a.id, a.title, a.audience) == ("refunds", "Refunds", "customer")
    assert a.tags == ("refund", "money back")
    assert a.policy_rules == ("refund-over-authority",)
    assert a.updated == date(2026, 11, 1)
    assert a.body.startswith("# Refunds")
    assert a.hash == content_hash(GOOD.replace("\n", "\r\n"))  # line endings do not matter


def _with(front: str) -> str:
    return f"---\n{front}\n---\nSome text.\n"


BASE = "id: a\ntitle: T\naudience: customer\nupdated: 2026-01-02"


@pytest.mark.parametrize(
    ("text", "field", "words"),
    [
        ("no front matter\n", None, "no front matter"),  # nothing to read
        ("---\nid: [unclosed\n---\nx\n", None, "not valid YAML"),  # YAML syntax error
        ("---\n- a list\n---\nx\n", None, "mapping"),  # front matter not a mapping
        (_with(BASE + "\naudiance: internal"), "audiance", "unknown key"),  # a typo is refused
        (_with("title: T\naudience: customer\nupdated: 2026-01-02"), "id", "missing"),
        (_with(BASE.replace("id: a", "id: Not An Id")), "id", "not an id"),
        (_with(BASE.replace("customer", "everyone")), "audience", "choose one of"),
        (_with(BASE.replace("2026-01-02", "last tuesday")), "updated", "not a date"),
        (_with(BASE.replace("title: T", "title: ''")), "title", "non-empty"),
        (_with(BASE + "\ntags: {a: 1}"), "tags", "list of strings"),
        (_with(BASE + "\npolicy_rules: [1]"), "policy_rules", "non-empty string"),
        ("---\n" + BASE + "\n---\n   \n", "body", "no text"),  # empty body
        (_with(BASE.replace("2026-01-02", "2026-13-45")), None, "not valid YAML"),  # no month 13
        (_with(BASE + "\ntags: " + "[" * 9000), None, "longer than"),  # front matter bomb
        (_with(BASE + "\ntags: " + "[" * 900 + "]" * 900), None, "not valid YAML"),  # too deep
        (_with(BASE) + "a NUL \x00 here", None, "NUL"),
    ],
)
def test_bad_articles_name_the_file_and_field(text: str, field: str | None, words: str) -> None:
    with pytest.raises(ArticleInvalid) as err:
        parse(text, source="bad.md")
    assert err.value.field == field
    assert words in err.value.message
    assert err.value.message.startswith("bad.md")
    assert err.value.code == "GD110"


def test_passages_keep_their_heading_and_span() -> None:
    a = parse(GOOD, source="refunds.md")
    ps = passages(a)
    assert [p.heading for p in ps] == ["Refunds", "How long it takes"]
    for p in ps:
        assert a.body[p.start : p.end] == p.text
    # the short note joins the paragraph before it (no one-line passage of its own)
    assert ps[1].text.endswith("Short note.")
    assert "## How long" not in ps[1].text  # the heading line is context, not text


def test_short_paragraphs_merge_and_long_ones_stay_apart() -> None:
    long = "word " * 60
    body = f"---\n{BASE}\n---\nIntro.\n\n{long}\n\n{long}\n\n{long}\n"
    ps = passages(parse(body))
    assert ps[0].text.startswith("Intro.") and long.strip() in ps[0].text
    assert len(ps) == 3
    assert [p.ordinal for p in ps] == [0, 1, 2]


def test_headings_and_links_are_read_without_backtracking() -> None:
    text = "---\n" + BASE + "\n---\n## Refunds ##  \nSee [the form](https://e.com/a_b) now.\n"
    (p,) = passages(parse(text))
    assert p.heading == "Refunds" and plain(p.text) == "See the form now."
    # inputs that made the earlier patterns backtrack quadratically come out unchanged
    assert plain("[" * 20_000) == "[" * 20_000
    assert plain("[a](" * 5_000).startswith("[a](")


def test_plain_removes_markdown_marks() -> None:
    assert (
        plain("- **Call** us at [the desk](https://x.example)\n> `now`")
        == "Call us at the desk now"
    )


def test_a_reply_quoting_a_passage_is_recognised_and_topic_overlap_is_not() -> None:
    passage = (
        "Once we approve a refund, the money reaches your bank in 5 to 10 working days. "
        "Your bank may take a little longer to show it."
    )
    quoting = "Hi Dana, the money reaches your bank in 5 to 10 working days once we approve it."
    near = "Hi Dana, your refund is approved; the bank shows money in some days."
    assert quoted(f"Hello! {passage} Thanks.", [passage]) == [0]
    assert quoted(quoting, [passage]) == [0]
    assert quoted(near, [passage]) == []


@pytest.mark.parametrize(
    ("signals", "expected"),
    [
        ({"causes": {"lack_of_information": 0.7}}, ["causes.lack_of_information"]),
        ({"causes": {"miscommunication": 0.5}}, ["causes.miscommunication"]),
        ({"emotions": {"confusion": 0.9}}, ["emotions.confusion"]),
        ({"requests": {"refund": 0.8, "cancel": 0.2}}, ["requests.refund"]),
        ({"requests": {"policy_exception": 0.6}}, ["requests.policy_exception"]),
        ({"causes": {"lack_of_information": 0.49}, "emotions": {"anger": 0.99}}, []),  # below
        ({}, []),  # nothing known
    ],
)
def test_articles_are_called_for_by_information_and_policy_signals(
    signals: dict[str, dict[str, float]], expected: list[str]
) -> None:
    assert reasons(signals) == expected
