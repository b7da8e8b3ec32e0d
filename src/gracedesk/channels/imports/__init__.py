"""Bulk import of archives: csv, jsonl, mbox and the Twitter customer-support layout (twcs).

    read (one reader per format)  ->  arrange (threads, order)  ->  batches (analyse, store)

- ``records``: :class:`Record`, the one value every reader produces, and :class:`Rejection`.
- ``tabular`` (csv, jsonl), ``twcs``, ``mbox``: the readers; a bad record is a rejection with
  its line number, a file that is not the format at all ``errors.ImportFailed`` (GD803).
- ``arrange``: in-file duplicates out, each conversation's customer, the order records are
  stored in (conversations whole, oldest first; a pure function of the file).
- ``stored``: what the store already has for a batch; each conversation's state after it.
- ``batch``: one batch's reads, analysis and single write transaction.
- ``run``: the ``imports`` row and the loop over batches, resumable after a crash.

History is stored and analysed, never decided on: no policy runs over it (docs/import.md).

The entry point is :func:`gracedesk.channels.imports.run.run_import`; this package's own
module holds only what the command line needs before it builds anything (it stays cheap to
import, so that ``gracedesk --help`` does not load the store).
"""

FORMATS = ("csv", "jsonl", "mbox", "twcs")
BATCH = 2000  # messages per transaction: large enough for set-based writes, small to redo
