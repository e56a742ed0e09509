"""dossiers: the materials each mail brings, joined to their nominee across mails; aliases of
merged nominees; a reviewer's moves of materials; a message's body kept as text

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("body_text", sa.Text(), nullable=False, server_default=""))
    with op.batch_alter_table("nominees", schema=None) as batch_op:
        batch_op.add_column(sa.Column("key", sa.String(length=200), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("birth", sa.String(length=20), nullable=False, server_default=""))
        batch_op.create_index("ix_nominees_key", ["key"])
    op.create_table(
        "materials",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("message_pk", sa.Integer(), sa.ForeignKey("messages.id", ondelete="CASCADE"), nullable=False),
        sa.Column("attachment_id", sa.Integer(), sa.ForeignKey("attachments.id", ondelete="SET NULL")),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("person_kind", sa.String(20), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("birth", sa.String(20), nullable=False),
        sa.Column("rank", sa.Integer()),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("words", sa.Integer()),
        sa.Column("chars_nospace", sa.Integer()),
        sa.Column("info", sa.JSON(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("nominee_id", sa.Integer(), sa.ForeignKey("nominees.id", ondelete="SET NULL")),
        sa.Column("replaced_by", sa.Integer()),
    )
    op.create_index("ix_materials_message_pk", "materials", ["message_pk"])
    op.create_index("ix_materials_attachment_id", "materials", ["attachment_id"])
    op.create_index("ix_materials_nominee_id", "materials", ["nominee_id"])
    op.create_table(
        "nominee_aliases",
        sa.Column("alias_id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("nominee_id", sa.Integer(), sa.ForeignKey("nominees.id", ondelete="CASCADE"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_nominee_aliases_nominee_id", "nominee_aliases", ["nominee_id"])
    op.create_table(
        "material_moves",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("message_pk", sa.Integer(), sa.ForeignKey("messages.id", ondelete="CASCADE"), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("nominee_id", sa.Integer(), sa.ForeignKey("nominees.id", ondelete="SET NULL")),
        sa.Column("by", sa.String(100), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
    )
    op.create_index("ix_material_moves_message_pk", "material_moves", ["message_pk"])
    op.create_index("ix_material_moves_nominee_id", "material_moves", ["nominee_id"])


def downgrade() -> None:
    op.drop_table("material_moves")
    op.drop_table("nominee_aliases")
    op.drop_table("materials")
    with op.batch_alter_table("nominees", schema=None) as batch_op:
        batch_op.drop_index("ix_nominees_key")
        batch_op.drop_column("birth")
        batch_op.drop_column("key")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_column("body_text")
