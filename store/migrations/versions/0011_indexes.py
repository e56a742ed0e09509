"""indexes: every foreign key, and what the per-recipient cap counts

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_attachments_parent_id", "attachments", ["parent_id"])
    op.create_index("ix_nominees_attachment_id", "nominees", ["attachment_id"])
    op.create_index("ix_nominees_narrative_attachment_id", "nominees", ["narrative_attachment_id"])
    op.create_index("ix_receipts_to_addr_sent_at", "receipts", ["to_addr", "sent_at"])
    op.create_index("ix_outbox_to_addr_sent_at", "outbox", ["to_addr", "sent_at"])


def downgrade() -> None:
    op.drop_index("ix_outbox_to_addr_sent_at", "outbox")
    op.drop_index("ix_receipts_to_addr_sent_at", "receipts")
    op.drop_index("ix_nominees_narrative_attachment_id", "nominees")
    op.drop_index("ix_nominees_attachment_id", "nominees")
    op.drop_index("ix_attachments_parent_id", "attachments")
