"""Reading an e-mail (no server, no store): new text, quotes and signatures cut, HTML to text,
attachments as metadata, auto-replies and bounces, thread headers, the reply token."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from gracedesk.channels.email.parse import channel_id, message_ids, parse_mail, strip_reply
from gracedesk.channels.email.threads import normalise_subject, read_token, reply_token

from .email_servers import mail

SECRET = "test-secret"


@pytest.mark.parametrize(
    ("body", "expected", "stripped"),
    [
        # "On ... wrote:" and the quoted reply under it
        (
            "This is the third time I ask. Where is my refund?\n\n"
            "On Mon, 23 Nov 2026 at 09:00, Acme Support <support@acme.test> wrote:\n"
            "> Thank you for your message.\n> We will look into it.\n",
            "This is the third time I ask. Where is my refund?",
            True,
        ),
        # Outlook's header block
        (
            "Nope. Not fixed.\n\nFrom: Acme Support <support@acme.test>\n"
            "Sent: Monday, November 23, 2026 9:00 AM\nTo: Carol <carol@example.com>\n"
            "Subject: RE: Kettle\n\nDear Carol, we are sorry...\n",
            "Nope. Not fixed.",
            True,
        ),
        # German client header
        (
            "Das ist eine Frechheit!\n\nAm 23.11.2026 um 09:00 schrieb Acme <s@acme.test>:\n> Hallo\n",
            "Das ist eine Frechheit!",
            True,
        ),
        # the standard signature separator
        ("Still broken.\n\n-- \nCarol\n+44 20 7946 0000\n", "Still broken.", True),
        # a phone's signature
        ("Not happy at all.\n\nSent from my iPhone\n", "Not happy at all.", True),
        # a closing formula and name
        (
            "Where is my refund?\n\nBest regards,\nCarol Customer\nHead of Purchasing\n",
            "Where is my refund?",
            True,
        ),
        # a customer's own list is kept, not taken for a signature: nothing cut
        (
            "- the lid\n- the handle\nBoth broke on day one.\n",
            "- the lid\n- the handle\nBoth broke on day one.",
            False,
        ),
        # inline quoting: the quoted lines go, the answer stays
        (
            "> Did you try descaling it?\n\nYes, twice. It still leaks.\n",
            "Yes, twice. It still leaks.",
            True,
        ),
    ],
)
def test_quoted_history_and_signatures_are_cut(body: str, expected: str, stripped: bool) -> None:
    assert strip_reply(body) == (expected, stripped)


def test_a_body_without_history_is_kept_whole() -> None:
    assert strip_reply("I want my money back.\nNow.") == ("I want my money back.\nNow.", False)


def test_html_only_body_becomes_text_without_scripts() -> None:
    m = EmailMessage()
    m["From"] = "carol@example.com"
    m["Subject"] = "Broken"
    m["Message-ID"] = "<h1@example.com>"
    m.set_content(
        "<html><head><style>p{color:red}</style><script>alert('x')</script></head><body>"
        "<p>Your <b>useless</b> kettle &amp; your service.</p><p>Refund &lt;now&gt;!</p>"
        "<div class='gmail_quote'>On Mon, 23 Nov 2026 at 09:00, Acme &lt;s@acme.test&gt; wrote:"
        "<blockquote>We are sorry.</blockquote></div></body></html>",
        subtype="html",
    )
    got = parse_mail(m.as_bytes())
    assert got.html_only
    assert got.text == "Your useless kettle & your service.\n\nRefund <now>!"
    assert "alert" not in got.text and "color" not in got.text
    assert got.meta()["html_only"] is True


def test_plain_part_wins_over_html() -> None:
    m = EmailMessage()
    m["From"] = "carol@example.com"
    m.set_content("plain words")
    m.add_alternative("<p>html words</p>", subtype="html")
    got = parse_mail(m.as_bytes())
    assert (got.text, got.html_only, got.attachments) == ("plain words", False, ())


def test_attachments_are_metadata_only() -> None:
    m = EmailMessage()
    m["From"] = "Carol <carol@example.com>"
    m["Message-ID"] = "<a1@example.com>"
    m.set_content("See the photo and the receipt.")
    m.add_attachment(b"\x89PNG" + b"0" * 1020, maintype="image", subtype="png", filename="leak.png")
    m.add_attachment(b"%PDF-1.4 receipt", maintype="application", subtype="pdf", filename="r.pdf")
    got = parse_mail(m.as_bytes())
    assert got.text == "See the photo and the receipt."
    assert got.meta()["attachments"] == [
        {"filename": "leak.png", "content_type": "image/png", "size": 1024},
        {"filename": "r.pdf", "content_type": "application/pdf", "size": 16},
    ]
    assert "PNG" not in str(got.meta())


def test_headers_are_kept_in_meta() -> None:
    raw = mail(
        message_id="<m2@mail.example.com>",
        headers={"In-Reply-To": "<r1@acme.test>", "References": "<m0@x> <r1@acme.test>"},
        to="Acme <support@acme.test>, sales@acme.test",
    )
    meta = parse_mail(raw).meta()
    assert meta == {
        "message_id": "<m2@mail.example.com>",
        "in_reply_to": "<r1@acme.test>",
        "references": ["<m0@x>", "<r1@acme.test>"],
        "from": "carol@example.com",
        "from_name": "Carol Customer",
        "to": ["support@acme.test", "sales@acme.test"],
        "subject": "My kettle is broken",
        "date": "2026-11-23T08:55:00+00:00",
        "attachments": [],
    }


def test_an_email_without_message_id_is_keyed_by_its_bytes() -> None:
    m = EmailMessage()
    m["From"] = "carol@example.com"
    m.set_content("hello")
    got = parse_mail(m.as_bytes())
    assert got.message_id is None
    assert got.channel_message_id == f"sha256:{got.sha256}"
    assert parse_mail(m.as_bytes()).channel_message_id == got.channel_message_id


def test_an_empty_body_falls_back_to_the_subject() -> None:
    assert parse_mail(mail(subject="Refund NOW", body="\n")).text == "Refund NOW"


@pytest.mark.parametrize(
    ("headers", "sender", "kind"),
    [
        ({"Auto-Submitted": "auto-replied"}, "carol@example.com", "auto-reply"),  # RFC 3834
        ({"Auto-Submitted": "auto-generated; owner-email=x"}, "carol@example.com", "auto-reply"),
        ({"Auto-Submitted": "no"}, "carol@example.com", None),  # a human's mail
        ({"X-Autoreply": "yes"}, "carol@example.com", "auto-reply"),
        ({"X-Autorespond": "Out of office"}, "carol@example.com", "auto-reply"),
        ({"Precedence": "bulk"}, "carol@example.com", "auto-reply"),
        ({"Precedence": "auto_reply"}, "carol@example.com", "auto-reply"),
        ({"Precedence": "junk"}, "carol@example.com", "auto-reply"),
        ({"Precedence": "list"}, "carol@example.com", None),  # a mailing list: a person wrote it
        ({}, "MAILER-DAEMON@mx.example.com", "bounce"),
        ({}, "carol@example.com", None),
    ],
)
def test_auto_replies_and_bounces_are_recognised(
    headers: dict[str, str], sender: str, kind: str | None
) -> None:
    got = parse_mail(mail(sender=sender, headers=headers))
    assert got.auto == kind
    assert ("auto" in got.meta()) is (kind is not None)


def test_a_delivery_report_is_a_bounce_threaded_by_the_returned_mail() -> None:
    report = EmailMessage()
    report["From"] = "Mail Delivery System <postmaster@mx.example.com>"
    report["Subject"] = "Undelivered Mail Returned to Sender"
    report["Message-ID"] = "<b1@mx.example.com>"
    report.set_content("Your message could not be delivered.")
    returned = EmailMessage()
    returned["Message-ID"] = "<gd.reply.5.3@acme.test>"
    returned["References"] = "<c1@example.com>"
    returned.set_content("our reply")
    report.add_attachment(returned)
    report.replace_header("Content-Type", 'multipart/report; report-type="delivery-status"')
    got = parse_mail(report.as_bytes())
    assert got.auto == "bounce"
    assert got.thread_ids == ("<gd.reply.5.3@acme.test>", "<c1@example.com>")


@pytest.mark.parametrize(
    ("value", "ids"),
    [
        ("<a@b> <c@d>", ("<a@b>", "<c@d>")),
        ("<a@b>\n <c@d>", ("<a@b>", "<c@d>")),  # folded
        ("a@b", ("<a@b>",)),  # brackets forgotten by the client
        ("not an id", ()),
        ("", ()),
    ],
)
def test_message_ids(value: str, ids: tuple[str, ...]) -> None:
    assert message_ids(value) == ids


def test_a_long_message_id_is_hashed_for_the_column() -> None:
    long_id = "<" + "x" * 300 + "@example.com>"
    assert channel_id(long_id).startswith("sha256:") and len(channel_id(long_id)) == 71
    assert channel_id("<short@x>") == "<short@x>"


@pytest.mark.parametrize(
    ("subject", "normal"),
    [
        ("Re: My kettle", "My kettle"),
        ("RE: Fwd: AW: SV: My kettle", "My kettle"),
        ("Re[2]: My kettle [#GD12-deadbeef]", "My kettle"),
        ("WG:   My   kettle", "My kettle"),
        ("Regarding my kettle", "Regarding my kettle"),  # "Re" inside a word stays
    ],
)
def test_subject_normalisation(subject: str, normal: str) -> None:
    assert normalise_subject(subject) == normal


def test_reply_token_round_trip_and_forgery() -> None:
    token = reply_token(SECRET, 42)
    assert token.startswith("[#GD42-") and len(token) == len("[#GD42-12345678]")
    assert read_token(f"Re: Kettle {token}", SECRET) == (42, True)
    assert read_token(f"Re: Kettle {token}", "another-secret") == (42, False)
    assert read_token("Re: Kettle [#GD43-" + token[7:], SECRET) == (43, False)
    assert read_token("Re: Kettle", SECRET) is None
