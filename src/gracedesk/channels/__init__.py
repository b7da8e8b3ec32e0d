"""Channels: where customers write and where replies go.

- ``delivery``: every agent reply becomes a ``deliveries`` row, sent by the worker through the
  conversation's transport (e-mail, a helpdesk connector, a signed webhook), retried with
  back-off, sent once.
- ``email``: IMAP mailboxes in (threading, quotes and signatures stripped, auto-replies kept but
  not analysed) and SMTP out.
- ``connectors``: Chatwoot, Zammad, Zendesk, Freshdesk and Help Scout webhooks in, notes, tags,
  priority and replies written back through their APIs.
- ``imports``: archives (CSV, JSONL, mbox, the Twitter customer-support layout) brought in.

Channels sit on top of the service: they turn a channel's input into ``service.desk.Incoming``
and hand it to ``Desk.post_message``, the same path as the REST API.
"""
