"""one outbox: receipts join reminders, returns and summaries in one queue, sent by one loop

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_RECEIPT_COLUMNS = (
    "id",
    "message_pk",
    "state",
    "to_addr",
    "rfc_message_id",
    "reason",
    "attempts",
    "last_error",
    "next_attempt_at",
    "created_at",
    "sent_at",
    "claimed_by",
    "claimed_at",
    "body",
)


def _outbox_table() -> sa.Table:
    return sa.table(
        "outbox",
        *(
            sa.column(name, type_)
            for name, type_ in (
                ("id", sa.Integer()),
                ("kind", sa.String()),
                ("key", sa.String()),
                ("province_code", sa.String()),
                ("message_pk", sa.Integer()),
                ("to_addr", sa.String()),
                ("subject", sa.Text()),
                ("body", sa.Text()),
                ("in_reply_to", sa.Text()),
                ("references", sa.Text()),
                ("rfc_message_id", sa.String()),
                ("state", sa.String()),
                ("reason", sa.Text()),
                ("created_by", sa.String()),
                ("created_at", sa.DateTime(timezone=True)),
                ("sent_at", sa.DateTime(timezone=True)),
                ("last_error", sa.Text()),
                ("detail", sa.JSON()),
                ("attempts", sa.Integer()),
                ("next_attempt_at", sa.DateTime(timezone=True)),
                ("claimed_by", sa.String()),
                ("claimed_at", sa.DateTime(timezone=True)),
            )
        ),
    )


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("claimed_by", sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("raw", sa.LargeBinary(), nullable=True))
    _move_receipts()
    op.drop_table("receipts")  # its indexes go with it


def _move_receipts() -> None:
    """Each receipt becomes an outbox row (kind "receipt", key "receipt:<message>"); a person's
    acknowledgement of a failed receipt follows it to its new id."""
    bind = op.get_bind()
    when = ("next_attempt_at", "created_at", "sent_at", "claimed_at")
    receipts = sa.table(
        "receipts", *(sa.column(c, sa.DateTime(timezone=True)) if c in when else sa.column(c) for c in _RECEIPT_COLUMNS)
    )
    messages = sa.table("messages", sa.column("id"), sa.column("province_code"))
    rows = bind.execute(
        sa.select(receipts, messages.c.province_code)
        .select_from(receipts.join(messages, messages.c.id == receipts.c.message_pk))
        .order_by(receipts.c.id)
    ).mappings()
    outbox = _outbox_table()
    moved: dict[int, str] = {}
    for r in rows:
        key = f"receipt:{r['message_pk']}"
        bind.execute(
            outbox.insert().values(
                kind="receipt",
                key=key,
                province_code=r["province_code"],
                message_pk=r["message_pk"],
                to_addr=r["to_addr"] or "",
                subject="",
                body=r["body"] or "",
                in_reply_to="",
                references="",
                rfc_message_id=r["rfc_message_id"] or "",
                state=r["state"],
                reason=r["reason"] or "",
                created_by="系统",
                created_at=r["created_at"],
                sent_at=r["sent_at"],
                last_error=r["last_error"] or "",
                detail={},
                attempts=r["attempts"] or 0,
                next_attempt_at=r["next_attempt_at"],
                claimed_by=r["claimed_by"],
                claimed_at=r["claimed_at"],
            )
        )
        moved[r["id"]] = key
    checks = sa.table("flag_checks", sa.column("id"), sa.column("key"))
    for old, key in moved.items():
        new = bind.execute(sa.select(outbox.c.id).where(outbox.c.key == key)).scalar_one()
        bind.execute(checks.update().where(checks.c.key == f"receipt|failed|{old}").values(key=f"outbox|failed|{new}"))


def downgrade() -> None:
    raise NotImplementedError("0012 moved the receipts into the outbox: restore a backup made before it instead")
