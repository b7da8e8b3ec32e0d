"""Notifications against real servers: an aiosmtpd SMTP server and a threaded HTTP server."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from gracedesk.channels.signature import sign, verify_signature
from gracedesk.channels.smtp import SmtpSettings
from gracedesk.errors import GracedeskError, InvalidInput, NotificationError
from gracedesk.jobs.notify import Delivery, Notifier, webhook_body
from gracedesk.model.notification import Notification

SECRET = "s3cret-key"


def free_port() -> int:
    """A port nothing listens on (bound, read, closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def note(**overrides: Any) -> Notification:
    fields: dict[str, Any] = {
        "event": "follow_up.due",
        "to": ("agent@example.com", "lead@example.com"),
        "subject": "Follow up on ticket #42",
        "body": "Ticket #42 is due for a follow-up.\nThe customer is waiting — be kind.\n",
        "payload": {"ticket_id": 42, "due": "2024-05-01T09:00:00Z", "note": "café"},
        "key": "follow_up:42:due",
    }
    fields.update(overrides)
    return Notification(**fields)


# -- SMTP ---------------------------------------------------------------------------------------


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


@dataclass
class Collector:
    """An aiosmtpd handler that keeps every message; it refuses the addresses in ``refuse``."""

    refuse: frozenset[str] = frozenset()
    received: list[Received] = field(default_factory=list)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if "*" in self.refuse or address in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        # SMTP lines end in CRLF; compare text with the newlines Python writes
        raw = envelope.original_content.replace(b"\r\n", b"\n")
        msg = message_from_bytes(raw, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), msg))
        return "250 Message accepted"


@pytest.fixture
def smtp_server() -> Iterator[Callable[..., tuple[Collector, SmtpSettings]]]:
    """Start real SMTP servers on 127.0.0.1; every one is stopped at teardown."""
    started: list[Controller] = []

    def start(
        collector: Collector | None = None, **smtp_kwargs: Any
    ) -> tuple[Collector, SmtpSettings]:
        collector = collector or Collector()
        port = free_port()
        controller = Controller(collector, hostname="127.0.0.1", port=port, **smtp_kwargs)
        controller.start()
        started.append(controller)
        return collector, SmtpSettings(host="127.0.0.1", port=port, sender="desk@gracedesk.test")

    yield start
    for controller in started:
        controller.stop()


# -- HTTP ---------------------------------------------------------------------------------------


@dataclass
class Request:
    path: str
    headers: dict[str, str]  # lower-cased names
    body: bytes


class RecordingServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), RecordingHandler)
        self.requests: list[Request] = []
        self.statuses: dict[str, int] = {}  # path -> status to answer; 204 otherwise
        self.lock = threading.Lock()

    def url(self, path: str) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}{path}"


class RecordingHandler(BaseHTTPRequestHandler):
    server: RecordingServer

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        headers = {k.lower(): v for k, v in self.headers.items()}
        with self.server.lock:
            self.server.requests.append(Request(self.path, headers, body))
        self.send_response(self.server.statuses.get(self.path, 204))
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output quiet


@pytest.fixture
def http_server() -> Iterator[RecordingServer]:
    server = RecordingServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5.0, trust_env=False) as client:
        yield client


# -- e-mail -------------------------------------------------------------------------------------


def test_email_reaches_every_recipient_with_headers_and_body(smtp_server, http) -> None:
    box, smtp = smtp_server()
    n = note()
    delivery = Notifier(smtp, [], None, http=http).send(n)

    assert delivery == Delivery(emailed=True, webhooks=())
    [got] = box.received  # one message for all recipients
    assert got.mail_from == "desk@gracedesk.test"
    assert got.rcpt_tos == ["agent@example.com", "lead@example.com"]
    msg = got.message
    assert msg["From"] == "desk@gracedesk.test"
    assert msg["To"] == "agent@example.com, lead@example.com"
    assert msg["Subject"] == "Follow up on ticket #42"
    assert msg["X-Gracedesk-Event"] == "follow_up.due"
    assert msg["X-Gracedesk-Key"] == "follow_up:42:due"
    assert msg["Message-ID"].startswith("<") and msg["Message-ID"].endswith("@gracedesk.test>")
    assert parsedate_to_datetime(msg["Date"]).tzinfo is not None
    assert msg.get_content_type() == "text/plain"
    assert msg.get_content() == n.body  # non-ASCII survives the transfer encoding


def test_email_logs_in_when_a_username_is_set(smtp_server, http) -> None:
    logins: list[tuple[bytes, bytes]] = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        assert isinstance(auth_data, LoginPassword)
        logins.append((auth_data.login, auth_data.password))
        # handled=False: let aiosmtpd answer 235 or 535 itself
        return AuthResult(success=auth_data.password == b"pw", handled=False)

    box, smtp = smtp_server(authenticator=authenticator, auth_require_tls=False)
    ok = SmtpSettings(smtp.host, smtp.port, username="desk", password="pw", sender=smtp.sender)
    assert Notifier(ok, [], None, http=http).send(note()).emailed
    assert logins == [(b"desk", b"pw")]
    assert len(box.received) == 1

    bad = SmtpSettings(smtp.host, smtp.port, username="desk", password="no", sender=smtp.sender)
    with pytest.raises(NotificationError, match="SMTPAuthenticationError"):
        Notifier(bad, [], None, http=http).send(note())
    assert len(box.received) == 1


@pytest.mark.parametrize(
    ("refuse", "emailed", "error"),
    [
        # the server refuses everyone: the only channel failed
        (frozenset({"*"}), False, "all recipients refused: agent@example.com (550 5.1.1"),
        # one refused, one accepted: sent, and the refusal is recorded
        (frozenset({"lead@example.com"}), True, "recipients refused: lead@example.com (550 5.1.1"),
    ],
)
def test_refused_recipients_are_recorded(
    smtp_server, http, http_server, refuse, emailed, error
) -> None:
    box, smtp = smtp_server(Collector(refuse=refuse))
    # with a webhook beside it, a refused e-mail does not raise
    delivery = Notifier(smtp, [http_server.url("/hook")], SECRET, http=http).send(note())
    assert delivery.emailed is emailed
    assert delivery.email_error is not None and delivery.email_error.startswith(error)
    assert delivery.webhooks == ((http_server.url("/hook"), 204, None),)
    assert len(box.received) == int(emailed)


def test_rejected_email_as_the_only_channel_raises(smtp_server, http) -> None:
    _, smtp = smtp_server(Collector(refuse=frozenset({"*"})))
    with pytest.raises(NotificationError) as info:
        Notifier(smtp, [], None, http=http).send(note())
    assert isinstance(info.value, GracedeskError)
    assert info.value.code == "GD600"
    assert "follow_up:42:due" in str(info.value) and "550" in str(info.value)


@pytest.mark.parametrize(
    ("smtp", "error"),
    [
        # nothing listens on the port
        (lambda s: SmtpSettings("127.0.0.1", free_port(), timeout=2.0), "ConnectionRefusedError"),
        # STARTTLS asked of a server that does not offer it
        (lambda s: SmtpSettings(s.host, s.port, starttls=True), "SMTPNotSupportedError"),
    ],
)
def test_smtp_connection_failures_are_recorded(smtp_server, http, smtp, error) -> None:
    _, running = smtp_server()
    with pytest.raises(NotificationError, match=error):
        Notifier(smtp(running), [], None, http=http).send(note())


def test_no_recipients_means_no_email(smtp_server, http, http_server) -> None:
    box, smtp = smtp_server()
    delivery = Notifier(smtp, [http_server.url("/hook")], None, http=http).send(note(to=()))
    assert not delivery.emailed and delivery.email_error is None
    assert box.received == []
    assert len(http_server.requests) == 1


# -- webhooks -----------------------------------------------------------------------------------


def test_webhook_gets_signed_json_with_event_and_key(http_server, http) -> None:
    urls = [http_server.url("/a"), http_server.url("/b")]
    n = note(event="sla.breached", key="sla:7:first_response", to=())
    delivery = Notifier(None, urls, SECRET, http=http).send(n)

    assert delivery == Delivery(
        emailed=False, webhooks=((urls[0], 204, None), (urls[1], 204, None))
    )
    assert sorted(r.path for r in http_server.requests) == ["/a", "/b"]
    for req in http_server.requests:
        assert json.loads(req.body) == {
            "event": "sla.breached",
            "key": "sla:7:first_response",
            "payload": n.payload,
        }
        assert req.body == webhook_body(n)
        assert req.headers["content-type"] == "application/json"
        assert req.headers["x-gracedesk-event"] == "sla.breached"
        assert req.headers["x-gracedesk-key"] == "sla:7:first_response"
        assert verify_signature(SECRET, req.body, req.headers["x-gracedesk-signature"])


def test_webhook_without_secret_is_unsigned(http_server, http) -> None:
    Notifier(None, [http_server.url("/a")], None, http=http).send(note())
    [req] = http_server.requests
    assert "x-gracedesk-signature" not in req.headers


def test_one_dead_webhook_does_not_stop_the_others(http_server, http) -> None:
    dead = f"http://127.0.0.1:{free_port()}/hook"
    failing = http_server.url("/500")
    live = http_server.url("/ok")
    http_server.statuses["/500"] = 500
    delivery = Notifier(None, [dead, failing, live], SECRET, http=http).send(note(to=()))

    (url0, status0, error0), failed, ok = delivery.webhooks
    assert (url0, status0) == (dead, None)
    assert error0 is not None and error0.startswith("ConnectError")
    assert failed == (failing, 500, "HTTP 500 Internal Server Error")
    assert ok == (live, 204, None)
    assert [r.path for r in http_server.requests] == ["/500", "/ok"]
    assert len(delivery.failures) == 2


def test_every_channel_failing_raises(http) -> None:
    smtp = SmtpSettings("127.0.0.1", free_port(), timeout=2.0)
    dead = f"http://127.0.0.1:{free_port()}/hook"
    with pytest.raises(NotificationError) as info:
        Notifier(smtp, [dead, "not a url"], SECRET, http=http).send(note())
    message = str(info.value)
    assert message.startswith("[GD600] follow_up.due 'follow_up:42:due' reached no channel")
    assert "email: ConnectionRefusedError" in message
    assert f"{dead}: ConnectError" in message
    assert "not a url: " in message


def test_nothing_configured_is_not_a_failure() -> None:
    with Notifier(None, [], None) as notifier:
        assert notifier.send(note()) == Delivery(emailed=False, webhooks=())


def test_default_client_is_closed_and_an_injected_one_is_not(http) -> None:
    with Notifier(None, [], None) as own:
        pass
    assert own.http.is_closed
    with Notifier(None, [], None, http=http):
        pass
    assert not http.is_closed


# -- signatures and validation ------------------------------------------------------------------

BODY = b'{"event":"csat.request","key":"csat:9","payload":{}}'


@pytest.mark.parametrize(
    ("secret", "body", "header", "valid"),
    [
        (SECRET, BODY, sign(SECRET, BODY), True),  # the real signature
        (SECRET, BODY, sign(SECRET, BODY) + "\r\n", True),  # trailing whitespace from a parser
        (SECRET, BODY + b" ", sign(SECRET, BODY), False),  # body changed after signing
        ("other", BODY, sign(SECRET, BODY), False),  # wrong secret
        (SECRET, BODY, sign(SECRET, BODY).removeprefix("sha256="), False),  # no scheme prefix
        (SECRET, BODY, "sha1=" + sign(SECRET, BODY)[7:], False),  # another scheme
        (SECRET, BODY, "sha256=", False),  # empty digest
        (SECRET, BODY, "sha256=é" + sign(SECRET, BODY)[8:], False),  # non-ASCII does not crash
    ],
)
def test_verify_signature(secret: str, body: bytes, header: str, valid: bool) -> None:
    assert verify_signature(secret, body, header) is valid


@pytest.mark.parametrize(
    "overrides",
    [
        {"event": ""},  # no event
        {"key": "  "},  # blank key
        {"subject": "Hi\r\nBcc: everyone@example.com"},  # header injection
        {"to": ("agent@example.com\nBcc: x@example.com",)},  # header injection in an address
        {"to": ("a@example.com, b@example.com",)},  # two addresses in one entry
        {"to": ("nobody",)},  # not an address
        {"payload": {"when": object()}},  # not JSON-serialisable
    ],
)
def test_malformed_notifications_are_refused(overrides: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput):
        note(**overrides)
