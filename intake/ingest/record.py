"""Recording one message from its reading: its headers, classification, files, nominees and the
flags its own files raise, and its receipt queued, in one transaction. A message that cannot be
read is recorded as failed with its traceback and kept; one bad message never stops a run."""

from __future__ import annotations

import logging
import traceback
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from intake.core.errors import ParseError
from intake.core.process import owner
from intake.core.settings import Settings
from intake.ingest.keys import reading_key
from intake.ingest.materials import materials_of
from intake.ingest.outcome import ParseOutcome
from intake.ingest.pool import parse_one
from intake.mail import replies
from intake.mail.classify import Classification, classify
from parsers.documents import Reading, ReadLimits
from parsers.mime import ParsedMessage, top_headers
from store.repo import MAX_ATTEMPTS, Attachment, Flag, Material, Message, Repo, Store

log = logging.getLogger(__name__)

# A message's body kept as text for the console (the page shows this much), and its own words.
BODY_KEPT = 20000
OWN_WORDS_KEPT = 4000


def process_message(
    repo: Repo,
    store: Store,
    message: Message,
    settings: Settings,
    limits: ReadLimits,
    now: datetime,
    *,
    queue_receipt: bool,
    outcome: ParseOutcome | None = None,
    fenced: bool = False,
) -> bool:
    """Classify and record one message (parsing it unless that was done); on failure record the
    traceback on the message. Commits. ``fenced``: the message was claimed, and what was read is
    committed only while the claim is still this worker's."""
    try:
        if outcome is None:
            timeout = settings.limits.parse_timeout_seconds
            outcome = parse_one(store.blobs.path_for(message.sha256), limits, timeout, store.blobs.root)
        if outcome.stopped:
            _stopped(repo, store, message, outcome.stopped, retry=queue_receipt)
            return False
        if outcome.parsed is None:
            raise ParseError(f"message could not be parsed:\n{outcome.error}")
        _apply(repo, store, message, outcome, settings, now)
        message.state = "processed"
        message.error = None
        if queue_receipt and message.classification == "submission":
            repo.flush()
            replies.queue_receipt(repo, message, settings)  # in the same commit: a crash leaves both or neither
        if fenced and not repo.holds_claim(message.id, owner()):
            # The lease ran out and another worker has the message now: its reading stands.
            repo.rollback()
            log.warning("message %s was taken over by another worker; this reading is dropped", message.id)
            return True
        repo.commit()
    except Exception as exc:
        repo.rollback()
        # The whole cause, not its first line: "could not be parsed" says nothing without it.
        log.error("message %s (%s) failed: %s", message.id, message.message_id, exc, exc_info=True)
        message = repo.message(message.id) or message
        message.state = "failed"
        message.error = traceback.format_exc()[-8000:]
        message.processed_at = datetime.now(UTC)
        repo.clear_parse_results(message)
        _flag(repo, message, "parse_failed", f"读取时出错（{type(exc).__name__}），原邮件已收存，待管理员处理")
        repo.commit()
        return False
    return True


def _stopped(repo: Repo, store: Store, message: Message, reason: str, *, retry: bool) -> None:
    """Reading was stopped from outside (time limit, the worker died). The message is kept and its
    headers read; it is tried again at the next poll until ``MAX_ATTEMPTS`` automatic attempts,
    then failed and flagged, and read again only when someone runs ``reprocess``."""
    repo.clear_parse_results(message)
    repo.flush()
    head = top_headers(store.blobs.head(message.sha256))
    message.subject = head.subject
    message.from_addr, message.from_name = head.from_addr[:320], head.from_name
    message.message_id = head.message_id[:998] or message.message_id
    message.processed_at = datetime.now(UTC)
    message.claimed_by = message.claimed_at = None
    message.attempts = (message.attempts or 0) + 1
    if retry and message.attempts < MAX_ATTEMPTS:
        log.warning("message %s (%s): %s; tried again at the next poll", message.id, message.message_id, reason)
        message.state, message.error = "new", reason
    else:
        log.error("message %s (%s): %s; not tried again automatically", message.id, message.message_id, reason)
        message.state, message.error = "failed", reason
        _flag(repo, message, "parse_failed", reason)
    repo.commit()


def _apply(
    repo: Repo,
    store: Store,
    message: Message,
    outcome: ParseOutcome,
    settings: Settings,
    now: datetime,
) -> None:
    parsed, readings = outcome.parsed, outcome.readings
    assert parsed is not None
    message.message_id = parsed.message_id[:998] or message.message_id
    duplicate = repo.earlier_duplicate(message) is not None
    overrides = repo.overrides_for(message.id)
    earlier = message.processed_at is not None
    key = reading_key(outcome, settings, duplicate, [(k, o.id, o.value) for k, o in overrides.items()])
    if earlier and message.state == "processed" and key and (message.info or {}).get("reading") == key:
        # Read again to the same result, with the same code, settings and decisions (a reprocess
        # of an unchanged archive): what is recorded stands as it is.
        message.processed_at = datetime.now(UTC)
        message.parse_count = (message.parse_count or 0) + 1
        return
    if earlier:
        # Read before (reprocess, a retry after a stop): what that reading found goes first. A
        # message never read has nothing to clear (every outcome sets processed_at).
        repo.clear_parse_results(message)
        repo.flush()
    verdict = _classified(message, parsed, readings, settings, overrides, duplicate, now)
    message.info = {**(message.info or {}), "reading": key}
    by_reading = _store_attachments(repo, store, message, readings)
    if parsed.failure:
        _flag(repo, message, "parse_failed", parsed.failure)
    if verdict.classification == "submission":
        _record_submission(repo, message, parsed, readings, verdict, by_reading)
    _reading_flags(repo, message, parsed, readings)


def _classified(
    message: Message,
    parsed: ParsedMessage,
    readings: list[Reading],
    settings: Settings,
    overrides: dict[str, Any],
    duplicate: bool,
    now: datetime,
) -> Classification:
    """The message's headers, when it arrived, and what it is (a person's decision standing over
    the classifier's), written on its row."""
    message.subject = parsed.subject
    message.from_addr = parsed.from_addr[:320]
    message.from_name = parsed.from_name
    message.reply_to = parsed.reply_to[:320]
    received, source = received_time(message.internaldate, parsed, now)
    message.received_at, message.received_source = received, source
    verdict = classify(parsed, readings, settings, duplicate=duplicate)
    if overrides:
        # What a person decided stands over what the classifier reads (office.messages).
        changes: dict[str, Any] = {}
        if "classification" in overrides:
            changes["classification"] = overrides["classification"].value
            changes["reason"] = f"{overrides['classification'].by} 人工改为此类：{overrides['classification'].reason}"
        if "province" in overrides:
            changes["province"] = overrides["province"].value
            changes["province_source"] = "assigned"
        verdict = replace(verdict, **changes)
    message.classification = verdict.classification
    message.province_code = verdict.province
    message.intent = verdict.intent
    message.processed_at = datetime.now(UTC)
    message.parse_count = (message.parse_count or 0) + 1
    message.info = {
        "province_source": verdict.province_source,
        "reason": verdict.reason,
        "date_header": parsed.date.isoformat() if parsed.date else None,
        "to": parsed.to[:20],
        "headers": parsed.headers,
        "defects": parsed.defects[:20],
        "forwarded": [{"subject": f.subject, "from": f.from_addr} for f in parsed.forwarded[:10]],
        # The sender's own words (no quoted earlier mail): what the campaign reads a 撤回 or an
        # 以此为准 from, and the names a 补报 gives.
        "own_words": verdict.own_words[:OWN_WORDS_KEPT],
    }
    # The body as text, as the console shows it: the page reads this, never the raw mail.
    message.body_text = parsed.body_text[:BODY_KEPT]
    return verdict


def _record_submission(
    repo: Repo,
    message: Message,
    parsed: ParsedMessage,
    readings: list[Reading],
    verdict: Classification,
    by_reading: dict[int, int],
) -> None:
    """A submission's materials (forms, rows of lists, narratives), each with the file it came in;
    the campaign joins them to their nominees."""
    if not verdict.registered:
        detail = f"发件地址 {parsed.from_addr or '（空）'} 未登记为任何省（区、市）的报送邮箱"
        _flag(repo, message, "sender_unregistered", detail)
    drafts = materials_of(readings)
    unread = any(r.status in ("unreadable", "skipped") for root in readings for r in root.walk())
    # A file that could not be read is flagged as such (with what to do): "nothing recognised"
    # would ask again for what the province already sent.
    if not drafts and not parsed.failure and not unread:
        _flag(repo, message, "nothing_recognised", _nothing_recognised_detail(readings))
    for position, d in enumerate(drafts):
        repo.add(
            Material(
                message_pk=message.id,
                attachment_id=by_reading.get(id(d.reading)),
                position=position,
                kind=d.kind,
                person_kind=d.person_kind,
                name=d.name,
                key=d.key[:200],
                birth=d.birth,
                rank=d.rank,
                source=d.source,
                fields=d.fields,
                words=d.words,
                chars_nospace=d.chars_nospace,
                info=d.info,
                text=d.text,
            )
        )


def _reading_flags(repo: Repo, message: Message, parsed: ParsedMessage, readings: list[Reading]) -> None:
    """What the files themselves raise: left unread by a limit, unreadable, only a scan."""
    for note in parsed.skipped:
        _flag(repo, message, "attachment_skipped", note)
    for verdict in parsed.signatures:
        if verdict.state == "invalid":
            signer = f"；签名者：{verdict.signer}" if verdict.signer else ""
            _flag(repo, message, "signature_invalid", f"{verdict.detail}{signer}")
    for r in (x for root in readings for x in root.walk()):
        if r.limited:
            _flag(repo, message, "attachment_skipped", f"{r.filename}：{r.limited}")
        if r.status == "unreadable":
            _flag(repo, message, "attachment_unreadable", f"{r.filename}：{r.detail}")
        elif r.status == "scan_only":
            _flag(repo, message, "scan_only", f"{r.filename}：{r.detail}")
        if r.recognised and r.status == "parsed" and (r.records or r.role == "narrative"):
            _flag(repo, message, "read_by_ocr", f"{r.filename}：由文字识别读出，待人工核对")


def _nothing_recognised_detail(readings: list[Reading]) -> str:
    if not readings:
        return "邮件没有附件（如以下载链接发送，请改为附件发送）"
    return "附件中未找到推荐表或推荐汇总表"


def _store_attachments(repo: Repo, store: Store, message: Message, readings: list[Reading]) -> dict[int, int]:
    """One row per file, numbered in reading order (a file, then what was inside it); rows are
    written a level at a time, so a message without archives takes one flush."""
    ids: dict[int, int] = {}
    positions: dict[int, int] = {}

    def number(r: Reading) -> None:
        positions[id(r)] = len(positions)
        for child in r.children:
            number(child)

    for r in readings:
        number(r)
    level: list[tuple[Reading, int | None]] = [(r, None) for r in readings]
    while level:
        rows = []
        for r, parent in level:
            digest = r.sha256 or store.blobs.put(r.payload)
            att = Attachment(
                message_pk=message.id,
                parent_id=parent,
                position=positions[id(r)],
                filename=r.filename[:1000],
                content_type=r.content_type[:255],
                sha256=digest,
                size=r.size or len(r.payload),
                type=r.type,
                role=r.role,
                status=r.status,
                detail=r.detail[:4000],
                info={
                    "records": len(r.records),
                    "words": r.words.words if r.words else None,
                    "chars_nospace": r.words.chars_nospace if r.words else None,
                    **({"technical": r.technical} if r.technical else {}),
                },
            )
            repo.add(att)
            rows.append((r, att))
        repo.flush()
        level = []
        for r, att in rows:
            ids[id(r)] = att.id
            level.extend((child, att.id) for child in r.children)
    return ids


def _flag(repo: Repo, message: Message, code: str, detail: str) -> None:
    repo.add(
        Flag(
            scope="message",
            origin="parse",
            code=code,
            detail=detail[:4000],
            message_pk=message.id,
            province_code=message.province_code,
        )
    )


def received_time(internaldate: datetime | None, parsed: ParsedMessage, now: datetime) -> tuple[datetime, str]:
    """When the server received the message: INTERNALDATE, else the topmost Received, else Date."""
    if internaldate is not None:
        return _aware(internaldate), "internaldate"
    if parsed.first_received is not None:
        return _aware(parsed.first_received), "received"
    if parsed.date is not None:
        return _aware(parsed.date), "date"
    return now.astimezone(UTC), "fetched"


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)
