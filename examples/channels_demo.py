"""Every channel path end to end, on this machine, in one run (docs/channels.md).

    .venv/bin/python examples/channels_demo.py

Needs the dev install (``pip install -e ".[dev]"``: aiosmtpd is the local SMTP server). It makes a
fresh desk (SQLite in a temporary folder, bundled models) and, with local servers standing in for
the outside world (an SMTP server, a Chatwoot API, a chat widget's webhook), shows:

1. an archive imported (the Twitter customer-support layout) and fed into customer history;
2. a Chatwoot webhook, signed as Chatwoot signs it, stored, analysed, and a private note with
   tags and priority written back through Chatwoot's API;
3. a customer e-mail stored and threaded, the agent's reply sent by SMTP with In-Reply-To;
4. a chat reply sent to the reply webhook, signed;
5. a blocked customer's message held out of the queue, answered once, released by a supervisor.

Nothing leaves the machine. The e-mail comes in through ``accept_mail``, the same code the IMAP
reader runs for each message; with a mailbox, ``gracedesk mail fetch`` does the rest
(docs/email.md; the tests run it against a real Dovecot).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import tempfile
import threading
from datetime import UTC, datetime
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as email_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient

from gracedesk.channels.connectors import manage
from gracedesk.channels.delivery import Transports, WebhookTransport, deliver_replies
from gracedesk.channels.email import SmtpTransport, accept_mail
from gracedesk.channels.imports.run import Options, run_import
from gracedesk.jobs.worker import transports_for
from gracedesk.service import actions, records, views
from gracedesk.service.build import build_desk
from gracedesk.service.desk import CustomerRef, Incoming
from gracedesk.settings import Settings
from gracedesk.web.app import create_app
from gracedesk.web.auth import create_user

HERE = Path(__file__).parent
SECRET = "demo-chatwoot-secret"


def say(title: str) -> None:
    print(f"\n== {title} " + "=" * max(0, 70 - len(title)))


class Recorder(BaseHTTPRequestHandler):
    """A local HTTP server that answers 200 and remembers every request."""

    calls: ClassVar[list[tuple[str, str, dict[str, Any]]]] = []

    def _any(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        Recorder.calls.append((self.command, self.path, json.loads(body or b"{}")))
        raw = json.dumps({"id": len(Recorder.calls), "payload": []}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    do_GET = do_POST = do_PUT = do_PATCH = _any

    def log_message(self, format: str, *args: Any) -> None:
        return


class Mailroom:
    """The aiosmtpd handler: keeps what the desk sends."""

    def __init__(self) -> None:
        self.received: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = BytesParser(policy=email_policy).parsebytes(envelope.original_content)
        assert isinstance(msg, EmailMessage)
        self.received.append(msg)
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    home = Path(tempfile.mkdtemp(prefix="gracedesk-demo-"))
    http = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    api_url = f"http://127.0.0.1:{http.server_address[1]}"
    mailroom = Mailroom()
    smtp_port = free_port()
    smtp = Controller(mailroom, hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    settings = Settings(
        home=home,
        secret_key="demo-secret",
        smtp_host="127.0.0.1",
        smtp_port=smtp_port,
        smtp_sender="support@acme.example",
        reply_webhook_url=f"{api_url}/chat-widget",
    )
    desk = build_desk(settings)
    now = datetime.now(UTC)
    agent = create_user(desk.store, "ana", role="agent", now=now, display_name="Ana Ruiz")[0]
    boss = create_user(desk.store, "sam", role="supervisor", now=now)[0]
    print(f"desk: {settings.url()}")

    say("1. import an archive (twcs)")
    for attempt in ("first", "again"):
        report = run_import(
            desk, HERE / "archive_twcs.csv", Options(format="twcs"), clock=lambda: datetime.now(UTC)
        )
        print(
            f"{attempt}: imported {report.imported}, skipped {report.skipped}, "
            f"rejected {report.rejected}"
        )
    for line in report.rejections[:3]:
        print(f"  rejected: line {line.line}: {line.reason}")

    say("2. a Chatwoot webhook in, a private note written back")
    manage.add(
        desk.store,
        "acme-chatwoot",
        "chatwoot",
        secret=SECRET,
        api_url=api_url,
        api_token="demo-token",
        options={"account_id": "78869"},
        now=now,
    )
    body = (HERE / "chatwoot_webhook.json").read_bytes()
    ts = str(int(now.timestamp()))
    mac = hmac.new(SECRET.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    headers = {"X-Chatwoot-Timestamp": ts, "X-Chatwoot-Signature": f"sha256={mac}"}
    with TestClient(create_app(settings, desk=desk)) as client:
        r = client.post("/hooks/acme-chatwoot", content=body, headers=headers)
        print(f"POST /hooks/acme-chatwoot -> {r.status_code} {r.json()}")
        forged = client.post(
            "/hooks/acme-chatwoot",
            content=body,
            headers={**headers, "X-Chatwoot-Signature": "sha256=00"},
        )
        print(f"the same with a forged signature -> {forged.status_code} (nothing stored)")
    transports = transports_for(settings, desk.store)
    deliver_replies(desk.store, transports, now=datetime.now(UTC))
    for method, path, doc in Recorder.calls:
        print(f"  Chatwoot API <- {method} {path} {json.dumps(doc)[:110]}")

    say("3. an e-mail in, the reply out by SMTP")
    mail = EmailMessage()
    mail["From"], mail["To"] = "Carol Price <carol@example.com>", "support@acme.example"
    mail["Subject"], mail["Message-ID"] = "My kettle leaks", "<k1@mail.example.com>"
    mail.set_content("The kettle you sold me leaks everywhere.\n\n--\nCarol\n")
    posted = accept_mail(
        desk, mail.as_bytes(), mailbox_id=None, now=now, secret=settings.session_key()
    )
    assert posted is not None
    print(
        f"stored as message {posted.message_id}, risk {posted.signals['risk']:.2f}"
        if posted.signals
        else "stored"
    )
    reply = actions.send_reply(
        desk,
        posted.conversation_id,
        "I'm sorry, Carol. A new kettle ships today.",
        user=agent,
        now=now,
    )
    print(
        f"reply {reply['message_id']}: delivery {reply['delivery']['state']} via {reply['delivery']['transport']}"
    )
    deliver_replies(
        desk.store, Transports(email=SmtpTransport.from_settings(settings, desk.store)), now=now
    )
    sent = mailroom.received[-1]
    for h in ("From", "To", "Subject", "Message-ID", "In-Reply-To"):
        print(f"  {h}: {sent[h]}")

    say("4. a chat reply to the reply webhook")
    chat = desk.post_message(
        Incoming(CustomerRef("web-42", name="Lee"), "Is my order shipped?", channel="chat"),
        actor=None,
        now=now,
    )
    out = actions.send_reply(
        desk, chat.conversation_id, "Yes, it left this morning.", user=agent, now=now
    )
    deliver_replies(
        desk.store,
        Transports(webhook=WebhookTransport(settings.reply_webhook_url or "", None)),
        now=now,
    )
    print(
        f"reply {out['message_id']} -> {Recorder.calls[-1][1]}: {Recorder.calls[-1][2]['payload']['text']!r}"
    )

    say("5. a blocked customer: held, answered once, released")
    customer_id = views.conversation_detail(desk, chat.conversation_id, user=boss, now=now)[
        "customer"
    ]["id"]
    records.add_sanction(desk, customer_id, "block", "threats against staff", user=boss, now=now)
    held = desk.post_message(
        Incoming(CustomerRef("web-42"), "Answer me, you idiots", channel="chat"),
        actor=None,
        now=now,
    )
    queue = views.list_conversations(desk, user=agent, now=now, status="active")["items"]
    print(
        f"analysis: {held.analysis}; in the agents' queue: {any(c['id'] == held.conversation_id for c in queue)}"
    )
    print(
        f"held for supervisors: {[h['message_id'] for h in views.held_messages(desk, user=boss)]}"
    )
    released = actions.release(desk, held.message_id, user=boss, now=now)
    print(
        f"released by sam: analysis {released['analysis']}, risk {released['signals']['risk']:.2f}"
    )

    smtp.stop()
    http.shutdown()
    desk.store.close()
    print(f"\nThe demo desk is in {home} (delete it when done).")


if __name__ == "__main__":
    main()
