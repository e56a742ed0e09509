"""reviews: each nominee's review state (待审, 初审通过, 不予推荐, 备选, 已撤回) and its history

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reviews",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("nominee_id", sa.Integer(), sa.ForeignKey("nominees.id", ondelete="SET NULL")),
        sa.Column("nominee_name", sa.String(200), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("by", sa.String(100), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_reviews_nominee_id", "reviews", ["nominee_id"])


def downgrade() -> None:
    op.drop_table("reviews")
