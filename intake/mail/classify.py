"""Classification: auto-reply, bounce, duplicate, unrelated or submission; and the province."""

from __future__ import annotations

import re
from dataclasses import dataclass

from intake.core.settings import Province, Settings
from parsers.documents import Reading
from parsers.mime import ParsedMessage
from parsers.sniff import ARCHIVE_TYPES, DOCUMENT_TYPES, SHEET_TYPES

AUTO_SUBJECT = re.compile(
    r"自动回复|自動回覆|自动答复|^\s*(auto(matic)?[ -]?(reply|response)|out of (the )?office|"
    r"vacation|abwesenheit|absence)|休假中|外出",
    re.I,
)
BOUNCE_SUBJECT = re.compile(
    r"系统退信|退信|投递失败|未送达|delivery status notification|undeliver|returned mail|"
    r"mail delivery (failed|failure|subsystem)|delivery failure|failure notice|non[- ]?delivery",
    re.I,
)
CORRECTION = re.compile(r"更正|修改|以此为准|替换|重新报送|重报|修正|更新版|最终版")
SUPPLEMENT = re.compile(r"补报|补充|增报|追加")
DOC_HINT = re.compile(r"推荐|事迹|名单|汇总|申报|材料|表")
TEXT_HINT = re.compile(r"推荐|事迹|先进|表现突出|非公党建")


@dataclass(frozen=True)
class Classification:
    classification: str  # submission | auto_reply | bounce | unrelated | duplicate
    province: str | None
    province_source: str  # sender | subject | attachments | forms | body | ""
    registered: bool
    intent: str  # initial | correction | supplement
    reason: str


ROBOT_LOCAL_PARTS = {"mailerdaemon", "postmaster", "mailerdeamon", "maildeliverysystem", "maildeliverysubsystem"}
ROBOT_NAMES = re.compile(r"mail delivery (sub)?system|mailer[-_ ]?daemon|postmaster|系统退信", re.I)


def is_bounce(msg: ParsedMessage) -> bool:
    """A delivery report by its structure (multipart/report, a delivery-status part anywhere), or
    from the mail system's robot in any of its spellings (MAILER-DAEMON, Mailer_Daemon, postmaster,
    "Mail Delivery Subsystem"), with attachments or without."""
    if msg.content_type == "multipart/report" or "message/delivery-status" in msg.report_parts:
        return True
    local = re.sub(r"[-_.+]", "", msg.from_addr.split("@", 1)[0].lower())
    if local in ROBOT_LOCAL_PARTS:
        return True
    return bool(ROBOT_NAMES.search(msg.from_name))


def is_probable_bounce(msg: ParsedMessage) -> bool:
    """Weaker signs, read after the auto-reply headers (auto-replies use a null sender too)."""
    if "return-path" in msg.headers and msg.headers["return-path"].strip() in ("<>", ""):
        return True
    if msg.headers.get("x-failed-recipients"):
        return True
    return bool(BOUNCE_SUBJECT.search(msg.subject)) and not msg.attachments


_NO = {"no", "false", "0", "off"}


def auto_reply_headers(msg: ParsedMessage) -> bool:
    """RFC 3834 ``Auto-Submitted`` other than ``no``, or the vendors' own headers (unless they say no)."""
    h = msg.headers
    auto = h.get("auto-submitted", "").strip().lower()
    if auto and not auto.startswith("no"):
        return True
    return any(name in h and h[name].strip().lower() not in _NO for name in ("x-autoreply", "x-autorespond"))


def auto_reply_hints(msg: ParsedMessage) -> bool:
    """Weaker signs: bulk precedence, a mailing list, the words of an out-of-office subject."""
    h = msg.headers
    if h.get("precedence", "").strip().lower() in ("bulk", "junk", "list", "auto_reply"):
        return True
    if h.get("list-id"):
        return True
    return bool(AUTO_SUBJECT.search(msg.subject))


def is_auto_reply(msg: ParsedMessage) -> bool:
    return auto_reply_headers(msg) or auto_reply_hints(msg)


def form_like(readings: list[Reading]) -> bool:
    """Something that looks like nomination material: a form or list was read, or a document,
    archive or scan is named like one, or a document's text speaks of 推荐/事迹."""
    for root in readings:
        for r in root.walk():
            if r.records:
                return True
            if DOC_HINT.search(r.filename):
                return True
            if r.type in ARCHIVE_TYPES and r.status != "expanded":
                return True  # cannot look inside: kept and flagged, treated as material
            if r.type in DOCUMENT_TYPES | SHEET_TYPES | {"encrypted", "ole"} and TEXT_HINT.search(r.text[:5000]):
                return True
            if r.type in ("encrypted", "ole") or (r.status == "unreadable" and r.type in DOCUMENT_TYPES | SHEET_TYPES):
                return True
    return False


def province_by_sender(addr: str, provinces: tuple[Province, ...]) -> Province | None:
    addr = addr.lower()
    if not addr:
        return None
    domain = addr.rsplit("@", 1)[-1]
    for p in provinces:
        for s in p.senders:
            s = s.lower().strip()
            if s == addr or (s.startswith("@") and domain == s[1:]):
                return p
    return None


def province_in_text(text: str, provinces: tuple[Province, ...]) -> Province | None:
    """The province named earliest in ``text`` (full names before short ones)."""
    best: tuple[int, int, Province] | None = None
    for p in provinces:
        for name in (p.name, p.short_name, *p.aliases):
            if len(name) < 2:
                continue
            i = text.find(name)
            if i >= 0:
                key = (i, -len(name))
                if best is None or key < best[:2]:
                    best = (i, -len(name), p)
    return best[2] if best else None


def detect_intent(msg: ParsedMessage, readings: list[Reading]) -> str:
    names = " ".join(r.filename for root in readings for r in root.walk())
    head = f"{msg.subject} {names} {msg.body_text[:500]}"
    if CORRECTION.search(head):
        return "correction"
    if SUPPLEMENT.search(head):
        return "supplement"
    return "initial"


def classify(msg: ParsedMessage, readings: list[Reading], settings: Settings, *, duplicate: bool) -> Classification:
    provinces = settings.provinces
    registered = province_by_sender(msg.from_addr, provinces) or province_by_sender(msg.reply_to, provinces)
    if registered:
        province, source = registered, "sender"
    else:
        # A forwarded submission: the original sender names the province.
        original = next((p for f in msg.forwarded if (p := province_by_sender(f.from_addr, provinces))), None)
        province, source = (original, "forwarded") if original else _province_from_content(msg, readings, provinces)
    code = province.code if province else None
    intent = detect_intent(msg, readings)

    def result(kind: str, reason: str) -> Classification:
        return Classification(kind, code, source, registered is not None, intent, reason)

    # Structure and headers first: they are set by programs. Words in a subject are weaker than
    # the material itself: a registered sender's forms are a submission whatever the subject says
    # ("…外出务工人员流动党支部书记" is an ordinary phrase here).
    if is_bounce(msg):
        return result("bounce", "delivery report (structure or the mail system's sender)")
    if auto_reply_headers(msg):
        return result("auto_reply", "automatic reply (RFC 3834 or vendor headers)")
    if duplicate:
        return result("duplicate", "same Message-ID or content as an earlier message")
    own = settings.smtp.sender_address
    if own and msg.from_addr == own:
        return result("unrelated", "sent from our own address")
    material = form_like(readings)
    if registered is not None and material:
        return result("submission", "")
    if auto_reply_hints(msg):
        return result("auto_reply", "automatic reply (precedence, list or subject)")
    if is_probable_bounce(msg):
        return result("bounce", "null sender or failed recipients")
    if registered is None and not material:
        return result("unrelated", "no form-like attachment and not from a registered sender")
    return result("submission", "")


def _province_from_content(
    msg: ParsedMessage, readings: list[Reading], provinces: tuple[Province, ...]
) -> tuple[Province | None, str]:
    found = province_in_text(msg.subject, provinces)
    if found:
        return found, "subject"
    names = "\n".join(r.filename for root in readings for r in root.walk())
    found = province_in_text(names, provinces)
    if found:
        return found, "attachments"
    fields = []
    for root in readings:
        for r in root.walk():
            for rec in r.records:
                fields.extend(rec.fields.get(k, "") for k in ("workplace", "unit_name", "address", "province"))
                fields.extend(o.text for o in rec.opinions)
            if r.records:
                fields.append(r.text[:2000])
    found = province_in_text("\n".join(fields), provinces)
    if found:
        return found, "forms"
    body = re.sub(r"北京时间", "", msg.body_text[:5000])
    found = province_in_text(body, provinces)
    if found:
        return found, "body"
    for fwd in msg.forwarded:
        found = province_in_text(fwd.subject, provinces)
        if found:
            return found, "subject"
    return None, ""
