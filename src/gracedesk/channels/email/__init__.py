"""E-mail in and out: IMAP mailboxes read into the desk, agents' replies sent by SMTP.

- :mod:`.parse`: raw bytes -> ``ParsedMail`` (new text, thread headers, attachments, auto-reply)
- :mod:`.threads`: which conversation an e-mail joins, and the reply token in our subjects
- :mod:`.inbox`: ``fetch_mailbox`` / ``fetch_all`` / ``idle``: stored before acknowledged
- :mod:`.outbox`: ``SmtpTransport``, the ``delivery.Transport`` for e-mail conversations
- :mod:`.mailboxes`: the ``mailboxes`` table, validated (``gracedesk mailboxes ...``)

docs/email.md describes the setup, the threading rules and the headers of a reply.
"""

from gracedesk.channels.email.inbox import FetchResult, accept_mail, fetch_all, fetch_mailbox, idle
from gracedesk.channels.email.outbox import SmtpTransport

__all__ = ["FetchResult", "SmtpTransport", "accept_mail", "fetch_all", "fetch_mailbox", "idle"]
