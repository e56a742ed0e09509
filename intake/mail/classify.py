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
# A province replacing its whole set of one kind says so in its own words (never in a quoted mail).
REPLACES = re.compile(r"更正|以此为准|重新报送|重新上报|重报|替换此前|替换原")
SUPPLEMENT = re.compile(r"补报|补充|增报|追加")
# A reply that only acknowledges: "收到，谢谢" and the like.
REPLY_SUBJECT = re.compile(r"^\s*(回复|答复|回覆|re|aw|sv)\s*[:：]", re.I)
OUR_SUBJECT = re.compile(r"回执|催报|提醒|退回修改|日报")
DOC_HINT = re.compile(r"推荐|事迹|名单|汇总|申报|材料|表")
TEXT_HINT = re.compile(r"推荐|事迹|先进|表现突出|非公党建")


@dataclass(frozen=True)
class Classification:
    classification: str  # submission | reply | auto_reply | bounce | unrelated | duplicate
    province: str | None
    province_source: str  # sender | subject | attachments | forms | body | ""
    registered: bool
    intent: str  # initial | correction | supplement
    reason: str
    own_words: str = ""  # the subject (unless a reply's) and the body without what it quotes


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
            if r.type in ARCHIVE_TYPES | {"msg", "tnef"} and r.status != "expanded":
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


def reply_to_us(msg: ParsedMessage, settings: Settings) -> bool:
    """A reply to one of our own mails (a receipt, a reminder, a return, a summary): its
    In-Reply-To or References name a Message-ID of ours, or (where a client dropped them) its
    subject is a reply to one of our subjects."""
    domain = re.escape(settings.smtp.sender_address.rsplit("@", 1)[-1])
    ours = re.compile(rf"<(receipt\.)?[0-9a-f]{{32}}@{domain}>", re.I)
    refs = f"{msg.headers.get('in-reply-to', '')} {msg.headers.get('references', '')}"
    if ours.search(refs):
        return True
    return bool(REPLY_SUBJECT.match(msg.subject)) and bool(OUR_SUBJECT.search(msg.subject))


def own_words(msg: ParsedMessage, readings: list[Reading], replying: bool) -> str:
    """What the sender wrote: the subject (a reply's is the earlier mail's), the names of the files
    it sent, and the body without what it quotes."""
    names = " ".join(r.filename for root in readings for r in root.walk())
    subject = "" if replying else msg.subject
    return f"{subject}\n{names}\n{msg.own_text}".strip()


def detect_intent(words: str) -> str:
    if REPLACES.search(words):
        return "correction"
    if SUPPLEMENT.search(words):
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
    replying = reply_to_us(msg, settings)
    words = own_words(msg, readings, replying)
    intent = detect_intent(words)

    def result(kind: str, reason: str) -> Classification:
        return Classification(kind, code, source, registered is not None, intent, reason, words)

    # Structure and headers first: they are set by programs. Words in a subject are weaker than
    # the material itself: a registered sender's forms are a submission whatever the subject says
    # ("…外出务工人员流动党支部书记" is an ordinary phrase here).
    if is_bounce(msg):
        return result("bounce", "退信：投递失败报告（由邮件结构或邮件系统的发件人看出）")
    if auto_reply_headers(msg):
        return result("auto_reply", "自动回复：邮件头标明为自动发出")
    if duplicate:
        return result("duplicate", "重复：与此前收到的邮件编号或内容相同")
    own = settings.smtp.sender_address
    if own and msg.from_addr == own:
        return result("unrelated", "本邮箱自己发出的邮件")
    if replying and not readings:
        # "收到，谢谢": listed for the office on the province's page, never answered.
        return result("reply", "对本办回执、催报或退回的回复，未带附件：列出备查，不作答复")
    material = form_like(readings)
    if registered is not None and material:
        return result("submission", "")
    if auto_reply_hints(msg):
        return result("auto_reply", "自动回复：群发、邮件列表或自动回复的主题")
    if is_probable_bounce(msg):
        return result("bounce", "退信：空发件人或列明投递失败的收件人")
    if registered is None and not material:
        return result("unrelated", "既无推荐材料，也不是登记的报送邮箱发来")
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
