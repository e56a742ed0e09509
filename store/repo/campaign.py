"""Nominees, flags and the columns the campaign's standing is counted from."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.orm import selectinload

from store.models import (
    Attachment,
    Correction,
    Flag,
    FlagCheck,
    Material,
    MaterialMove,
    Message,
    Nominee,
    NomineeAlias,
    OutgoingMail,
    Review,
    Run,
)
from store.repo.base import RepoBase, chunks

# Files a person should see even on mail that was set aside.
OFFICE_TYPES = ("docx", "doc", "wps", "xlsx", "xls", "et", "pdf")


class CampaignRepo(RepoBase):
    def lock_rules(self) -> None:
        """One rules evaluation at a time across every process sharing the database (PostgreSQL:
        a transaction-scoped advisory lock; SQLite serialises writers by itself)."""
        if self.s.get_bind().dialect.name == "postgresql":
            self.s.execute(text("SELECT pg_advisory_xact_lock(727275)"))

    def nominees(self) -> list[Nominee]:
        return list(self.s.scalars(select(Nominee).order_by(Nominee.id)))

    def clear_rule_flags(self) -> None:
        self.s.execute(delete(Flag).where(Flag.origin == "rules"))

    def province_flags(self, province: str | None = None) -> list[Flag]:
        stmt = select(Flag).where(Flag.scope == "province")
        if province is not None:
            stmt = stmt.where(Flag.province_code == province)
        return list(self.s.scalars(stmt.order_by(Flag.id)))

    def current_counts(self, province: str | None) -> dict[str, int]:
        """Current nominees of a province by kind."""
        withdrawn = self.withdrawn_ids()
        rows = self.s.execute(
            select(Nominee.id, Nominee.kind).where(Nominee.current.is_(True), Nominee.province_code == province)
        )
        counts: dict[str, int] = {}
        for pk, kind in rows:
            if pk not in withdrawn:
                counts[kind] = counts.get(kind, 0) + 1
        return counts

    def all_flags(self) -> list[Flag]:
        return list(self.s.scalars(select(Flag).order_by(Flag.id)))

    def messages_for_reports(self, pks: Sequence[int]) -> dict[int, Message]:
        """Messages with everything a receipt reads of them (files, nominees and their flags, the
        message's flags), a few queries for the lot."""
        stmt = (
            select(Message)
            .where(Message.id.in_(list(pks)))
            .options(
                selectinload(Message.attachments),
                selectinload(Message.nominees).selectinload(Nominee.flags),
                selectinload(Message.flags),
            )
        )
        return {m.id: m for m in self.s.scalars(stmt)}

    def nominee(self, pk: int) -> Nominee | None:
        return self.s.get(Nominee, pk)

    def flag(self, pk: int) -> Flag | None:
        return self.s.get(Flag, pk)

    def summary_facts(self) -> dict[str, list[Any]]:
        """The columns the campaign's standing is counted from, as plain rows."""
        return {
            "messages": list(
                self.s.execute(
                    select(Message.id, Message.province_code, Message.classification, Message.received_at)
                ).all()
            ),
            "receipts": list(
                self.s.execute(
                    select(OutgoingMail.message_pk, OutgoingMail.state).where(OutgoingMail.kind == "receipt")
                ).all()
            ),
            "nominees": list(
                self.s.execute(
                    select(
                        Nominee.id,
                        Nominee.message_pk,
                        Nominee.kind,
                        Nominee.name,
                        Nominee.current,
                        Nominee.province_code,
                    )
                ).all()
            ),
            "flags": list(
                self.s.execute(
                    select(
                        Flag.id,
                        Flag.scope,
                        Flag.code,
                        Flag.detail,
                        Flag.message_pk,
                        Flag.nominee_id,
                        Flag.province_code,
                    ).order_by(Flag.id)
                ).all()
            ),
            # What each message brought to which nominee (a material shared by several: in its info).
            "joined": list(
                self.s.execute(
                    select(Material.message_pk, Material.nominee_id, Material.kind, Material.info).where(
                        Material.nominee_id.is_not(None)
                    )
                ).all()
            ),
        }

    def waiting_for_people(self) -> dict[str, Any]:
        """For the board: receipts still to go by province, submissions whose province nobody could
        tell, and mail set aside (not a submission) that carries Word, Excel or PDF files."""
        receipts: dict[str, int] = {}
        stmt = (
            select(Message.province_code, func.count())
            .join(OutgoingMail, OutgoingMail.message_pk == Message.id)
            .where(
                OutgoingMail.kind == "receipt",
                OutgoingMail.state.in_(("queued", "sending")),
                Message.province_code.is_not(None),
            )
            .group_by(Message.province_code)
        )
        for code, n in self.s.execute(stmt):
            receipts[code] = n
        unknown = self.s.execute(
            select(Message.id, Message.subject, Message.from_addr, Message.received_at)
            .where(Message.classification == "submission", Message.province_code.is_(None))
            .order_by(Message.id)
        ).all()
        documents = select(Attachment.message_pk).where(Attachment.type.in_(OFFICE_TYPES))
        set_aside = self.s.execute(
            select(Message.id, Message.subject, Message.from_addr, Message.classification)
            .where(Message.classification.in_(("auto_reply", "bounce", "unrelated")), Message.id.in_(documents))
            .order_by(Message.id)
        ).all()
        return {"receipts": receipts, "unknown_province": list(unknown), "set_aside": list(set_aside)}

    def health(self) -> dict[str, Any]:
        """What ``intake status`` reports: the polls, what waits and what failed."""
        last = self.s.scalars(
            select(Run)
            .where(Run.kind == "poll", Run.finished_at.is_not(None), Run.error.is_(None))
            .order_by(Run.finished_at.desc())
            .limit(1)
        ).first()
        latest = self.s.scalars(select(Run).where(Run.kind == "poll").order_by(Run.id.desc()).limit(1)).first()
        new = self.s.scalar(select(func.count(Message.id)).where(Message.state.in_(("new", "processing"))))
        parse_flags = {
            f.message_pk: (f.scope, f.code, f.message_pk, f.nominee_id, f.province_code)
            for f in self.s.scalars(select(Flag).where(Flag.code == "parse_failed", Flag.scope == "message"))
        }
        failed = self.s.execute(select(Message.id, Message.subject).where(Message.state == "failed")).all()
        queued = self.s.scalar(
            select(func.count(OutgoingMail.id)).where(
                OutgoingMail.kind == "receipt", OutgoingMail.state.in_(("queued", "sending"))
            )
        )
        failed_mail = self.s.execute(
            select(OutgoingMail.id, OutgoingMail.kind, OutgoingMail.to_addr).where(OutgoingMail.state == "failed")
        ).all()
        return {
            "last_good_poll": last,
            "latest_poll": latest,
            "new": int(new or 0),
            "failed_messages": [(pk, subject, parse_flags.get(pk)) for pk, subject in failed],
            "receipts_queued": int(queued or 0),
            "failed_mail": [tuple(row) for row in failed_mail],
        }

    # ------------------------------------------------------------------ dossiers

    def submissions_for_campaign(self) -> list[tuple[int, str | None, Any, Any, str, str]]:
        """Every processed submission: (id, province, received_at, created_at, intent, own words)."""
        rows = self.s.execute(
            select(
                Message.id,
                Message.province_code,
                Message.received_at,
                Message.created_at,
                Message.intent,
                Message.info,
            ).where(Message.state == "processed", Message.classification == "submission")
        ).all()
        return [
            (pk, prov, rec, made, intent or "", str((info or {}).get("own_words", "")))
            for pk, prov, rec, made, intent, info in rows
        ]

    def materials(self) -> list[Material]:
        """Every material of every message (their texts left in the database)."""
        return list(self.s.scalars(select(Material).order_by(Material.message_pk, Material.position)))

    def material_texts(self, pks: Sequence[int]) -> dict[int, str]:
        out: dict[int, str] = {}
        for chunk in chunks(pks):
            out.update(dict(self.s.execute(select(Material.id, Material.text).where(Material.id.in_(chunk))).all()))
        return out

    def materials_of(self, message_pk: int) -> list[Material]:
        return list(
            self.s.scalars(select(Material).where(Material.message_pk == message_pk).order_by(Material.position))
        )

    def dossier(self, nominee_id: int) -> list[tuple[Material, Message]]:
        """A nominee's materials from every mail, in the order the mails arrived (a file holding
        several nominees' narratives names them all in its info)."""
        stmt = (
            select(Material, Message)
            .join(Message, Message.id == Material.message_pk)
            .where(Material.nominee_id.is_not(None))
            .order_by(Message.received_at, Message.id, Material.position)
        )
        return [
            (m, msg)
            for m, msg in self.s.execute(stmt).all()
            if m.nominee_id == nominee_id or nominee_id in ((m.info or {}).get("nominees") or [])
        ]

    def unmatched_materials(self, province: str) -> list[tuple[Material, Message]]:
        """A province's materials that joined no nominee (a narrative naming nobody, or two people)."""
        stmt = (
            select(Material, Message)
            .join(Message, Message.id == Material.message_pk)
            .where(Material.nominee_id.is_(None), Message.province_code == province, Message.state == "processed")
            .order_by(Message.received_at, Message.id, Material.position)
        )
        return [(m, msg) for m, msg in self.s.execute(stmt).all()]

    def material_moves(self) -> list[MaterialMove]:
        return list(self.s.scalars(select(MaterialMove).order_by(MaterialMove.id)))

    def aliases(self) -> dict[int, int]:
        return dict(self.s.execute(select(NomineeAlias.alias_id, NomineeAlias.nominee_id)).all())

    def nominee_or_alias(self, pk: int) -> Nominee | None:
        """The nominee with this id, or the one it was merged into."""
        found = self.s.get(Nominee, pk)
        if found is not None:
            return found
        alias = self.s.get(NomineeAlias, pk)
        return self.s.get(Nominee, alias.nominee_id) if alias is not None else None

    def merge_nominee(self, old: int, into: int) -> None:
        """Two records found to be one person: ``old`` becomes an alias of ``into``, and its
        corrections, reviews, moves, checks and aliases go with it."""
        for model, column in (
            (Correction, Correction.nominee_id),
            (Review, Review.nominee_id),
            (MaterialMove, MaterialMove.nominee_id),
        ):
            self.s.execute(update(model).where(column == old).values({column.key: into}))
        self.s.execute(update(NomineeAlias).where(NomineeAlias.nominee_id == old).values(nominee_id=into))
        for check in self.s.scalars(select(FlagCheck).where(FlagCheck.key.like(f"nominee|%|{old}|%"))):
            scope, code, mid, _nid, province = check.key.split("|")
            check.key = "|".join((scope, code, mid, str(into), province))
        self.s.execute(delete(Flag).where(Flag.nominee_id == old))
        self.s.execute(update(Material).where(Material.nominee_id == old).values(nominee_id=into))
        self.s.flush()
        self.s.execute(delete(Nominee).where(Nominee.id == old))
        self.s.add(NomineeAlias(alias_id=old, nominee_id=into))

    def clear_dossier_flags(self) -> None:
        self.s.execute(delete(Flag).where(Flag.origin == "dossier"))
