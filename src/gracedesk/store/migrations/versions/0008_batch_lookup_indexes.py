"""messages and escalations: indexes for the worker's per-batch lookups

The worker claims a message only when no older message of its conversation is queued or
running (``store.messages.claim_queued``), and a recorded micro-batch reads its conversations'
newest customer messages (``store.messages.newest_of``) and their pending escalations
(``store.escalations.pending_of``). The first two read every older message row of each
conversation to check its state or author; the third was planned on ``ix_escalations_state``
by SQLite, a scan of every pending escalation of the desk. ``messages (conversation_id,
analysis_state, id)`` and ``(conversation_id, author, id)`` answer the first two from the index
alone (they replace ``messages (conversation_id)``, which both lead with), and ``escalations
(conversation_id, state)`` looks up only the batch's conversations.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index(
            "ix_messages_conversation_state_id",
            ["conversation_id", "analysis_state", "id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_messages_conversation_author_id", ["conversation_id", "author", "id"], unique=False
        )
        batch_op.drop_index("ix_messages_conversation_id")
    with op.batch_alter_table("escalations", schema=None) as batch_op:
        batch_op.create_index(
            "ix_escalations_conversation_state", ["conversation_id", "state"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("escalations", schema=None) as batch_op:
        batch_op.drop_index("ix_escalations_conversation_state")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index("ix_messages_conversation_id", ["conversation_id"], unique=False)
        batch_op.drop_index("ix_messages_conversation_author_id")
        batch_op.drop_index("ix_messages_conversation_state_id")
