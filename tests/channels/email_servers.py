"""Real mail servers for the e-mail tests: Debian's Dovecot for IMAP, aiosmtpd for SMTP.

Dovecot runs in the foreground (``dovecot -F``) from a config written to a temporary folder: it
listens on 127.0.0.1 on a free port, without TLS, with plaintext login, one user in a
passwd-file and its maildir in that folder, logging to ``dovecot.log`` there. As root
(CI) its login processes run as Debian's ``dovenull`` user and the mail as ``dovecot`` (Dovecot
refuses uid 0 for both), so the maildir is owned by that user; as anyone else every process
runs as that user. Tests get a fresh folder each (:meth:`Dovecot.folder`),
so one server serves a whole test module. Mail is delivered with IMAP APPEND.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from imapclient import IMAPClient

DOVECOT = Path("/usr/sbin/dovecot")
MISSING = "Dovecot is not installed: apt-get install -y dovecot-imapd (.ci/run does it)"
USER, PASSWORD = "support", "imap-secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


@dataclass
class Dovecot:
    host: str
    port: int
    log: Path

    def client(self) -> IMAPClient:
        c = IMAPClient(self.host, port=self.port, ssl=False, timeout=10)
        c.login(USER, PASSWORD)
        return c

    def folder(self) -> str:
        """A new, empty folder for one test."""
        name = f"t{uuid.uuid4().hex[:10]}"
        with self.session() as c:
            c.create_folder(name)
        return name

    @contextmanager
    def session(self) -> Iterator[IMAPClient]:
        c = self.client()
        try:
            yield c
        finally:
            c.logout()

    def append(self, folder: str, raw: bytes) -> None:
        with self.session() as c:
            c.append(folder, raw)

    def flags(self, folder: str) -> list[tuple[bytes, ...]]:
        """Every message's flags in the folder, in UID order (``\\Recent`` left out: the
        server sets it for the first session that sees a message)."""
        with self.session() as c:
            c.select_folder(folder, readonly=True)
            uids = sorted(c.search(["ALL"]))
            got = c.fetch(uids, ["FLAGS"]) if uids else {}
            return [tuple(f for f in got[u][b"FLAGS"] if f != b"\\Recent") for u in uids]


@dataclass(frozen=True)
class _Users:
    internal: str  # Dovecot's own processes
    group: str
    login: str  # the login processes
    uid: int  # the mail
    gid: int


def _users() -> _Users:
    if os.geteuid() != 0:
        me = pwd.getpwuid(os.getuid())
        group = grp.getgrgid(me.pw_gid).gr_name
        return _Users(me.pw_name, group, me.pw_name, me.pw_uid, me.pw_gid)
    mail = pwd.getpwnam("dovecot")
    return _Users("dovecot", "dovecot", "dovenull", mail.pw_uid, mail.pw_gid)


def _config(base: Path, port: int, users: _Users, passwd: Path) -> str:
    return f"""
base_dir = {base}/run
state_dir = {base}/state
instance_name = gd-{base.name}
log_path = {base}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
# a wrong-password test must not slow down the logins after it (no delay, no penalty below)
auth_failure_delay = 0
auth_mechanisms = plain login
mail_location = maildir:~/Maildir
default_internal_user = {users.internal}
default_internal_group = {users.group}
default_login_user = {users.login}
first_valid_uid = 1
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {passwd}
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {passwd}
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
"""


def _wait_ready(proc: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"dovecot exited ({proc.returncode}): {log.read_text(errors='replace')}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                if s.recv(100).startswith(b"* OK"):
                    return
        except OSError:
            time.sleep(0.05)
    pytest.fail(f"dovecot did not answer on port {port}: {log.read_text(errors='replace')}")


@contextmanager
def running_dovecot() -> Iterator[Dovecot]:
    """Start Dovecot in a new temporary folder; stop it and remove the folder when done.

    The folder is made under /tmp with mode 0755 (not pytest's private tmp_path), because
    Dovecot's unprivileged processes read its passwd-file and write the maildir there."""
    if not DOVECOT.exists():
        if os.environ.get("CI"):
            pytest.fail(MISSING)
        pytest.skip(MISSING)
    users = _users()
    base = Path(tempfile.mkdtemp(prefix="gd-dovecot-"))
    try:
        base.chmod(0o755)
        home = base / USER
        home.mkdir()
        os.chown(home, users.uid, users.gid)
        passwd = base / "passwd"
        passwd.write_text(f"{USER}:{{PLAIN}}{PASSWORD}:{users.uid}:{users.gid}::{home}::\n")
        port = free_port()
        conf = base / "dovecot.conf"
        conf.write_text(_config(base, port, users, passwd))
        log = base / "dovecot.log"
        proc = subprocess.Popen([str(DOVECOT), "-F", "-c", str(conf)], stderr=subprocess.DEVNULL)
        try:
            _wait_ready(proc, port, log)
            yield Dovecot("127.0.0.1", port, log)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
    finally:
        shutil.rmtree(base, ignore_errors=True)


# -- SMTP ---------------------------------------------------------------------------------------


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    raw: bytes


@dataclass
class SmtpCollector:
    """An aiosmtpd handler that keeps every message; ``answer`` replaces the RCPT reply."""

    answer: str | None = None  # e.g. "550 5.1.1 no such user", "450 4.2.0 try later"
    received: list[Received] = field(default_factory=list)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if self.answer is not None:
            return self.answer
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content.replace(b"\r\n", b"\n")
        msg = message_from_bytes(raw, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), msg, raw))
        return "250 Message accepted"


@contextmanager
def running_smtp(collector: SmtpCollector | None = None) -> Iterator[tuple[SmtpCollector, int]]:
    from aiosmtpd.controller import Controller

    collector = collector or SmtpCollector()
    port = free_port()
    controller = Controller(collector, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield collector, port
    finally:
        controller.stop()


def mail(
    *,
    sender: str = "Carol Customer <carol@example.com>",
    to: str = "support@acme.test",
    subject: str = "My kettle is broken",
    body: str = "The kettle you sold me leaks everywhere. Fix it.\n",
    message_id: str | None = None,
    headers: dict[str, str] | None = None,
) -> bytes:
    """A plain-text customer e-mail as raw bytes."""
    m = EmailMessage()
    m["From"] = sender
    m["To"] = to
    m["Subject"] = subject
    m["Date"] = "Mon, 23 Nov 2026 08:55:00 +0000"
    m["Message-ID"] = message_id or f"<{uuid.uuid4().hex}@mail.example.com>"
    for k, v in (headers or {}).items():
        m[k] = v
    m.set_content(body)
    return m.as_bytes()
