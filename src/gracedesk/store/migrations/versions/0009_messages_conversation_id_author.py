"""messages: an index on (conversation_id, id, author) for a conversation's newest messages

A situation carries its conversation's newest messages up to the one being analysed, system
messages left out (``store.messages.messages_upto``; ``store.situations.take_many`` for a
micro-batch): ``WHERE conversation_id = ? AND id <= ? AND author != 'system' ORDER BY id DESC
LIMIT 40``. Since 0008 replaced ``messages (conversation_id)`` (on SQLite, the row id is its
last column) neither remaining index gave that order, so every earlier message of the
conversation was read and sorted. On ``(conversation_id, id, author)`` the read stops after
the forty it keeps, and the worker's read of only the messages that came since it last read
the conversation (``store.situations.TurnCache``) is a short range of the index.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index(
            "ix_messages_conversation_id_author", ["conversation_id", "id", "author"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("ix_messages_conversation_id_author")
