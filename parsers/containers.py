"""Files that hold files: archives (zip, 7z, RAR), Outlook's winmail.dat and .msg, S/MIME .p7m.
Each member is read as a file of its own through the context's ``read`` (one at a time, within
the message's budget and the nesting limit); a member that could not be had is an unreadable file
of its own, named with why."""

from __future__ import annotations

from parsers.archives import Expanded, Member, expand, safe_name
from parsers.mime import parse_message
from parsers.outlook import Unpacked, unpack_msg, unpack_tnef
from parsers.reading import EXTENSIONS, Context, Reading
from parsers.smime import ENCRYPTED_MAIL, cms_kind, signed_content


def read_archive(r: Reading, ctx: Context) -> None:
    r.role = "archive"
    if r.depth >= ctx.limits.archive.depth:
        r.status, r.detail = "skipped", f"压缩包嵌套超过 {ctx.limits.archive.depth} 层，未解压"
        r.limited = r.detail
        return
    _read_members(r, ctx, expand(r.payload, r.type, ctx.limits.archive, ctx.budget))


def read_outlook(r: Reading, ctx: Context) -> None:
    """A ``winmail.dat`` or a saved ``.msg``: the files it carries read like the mail's own."""
    r.role = "mail"
    if r.depth >= ctx.limits.archive.depth:
        r.status, r.detail = "skipped", f"邮件嵌套超过 {ctx.limits.archive.depth} 层，未读取"
        r.limited = r.detail
        return
    unpack = unpack_tnef if r.type == "tnef" else unpack_msg
    unpacked = unpack(r.payload, ctx.budget, ctx.limits.archive.members)
    r.text = unpacked.text[: ctx.limits.max_text_chars]
    _read_members(r, ctx, unpacked)
    if r.status == "expanded" and not r.children:
        r.detail = r.detail or "邮件中没有附件"


def read_p7m(r: Reading, ctx: Context) -> None:
    """An S/MIME file: an encrypted one named as such; a signed one's content read as a mail."""
    kind = cms_kind(r.payload)
    if kind == "enveloped":
        r.status, r.detail = "unreadable", ENCRYPTED_MAIL
        return
    inner = signed_content(r.payload) if kind == "signed" else None
    if inner is None:
        r.status, r.detail = "unreadable", "数字签名文件已损坏或其中没有内容，无法读取"
        return
    r.role = "mail"
    if r.depth >= ctx.limits.archive.depth:
        r.status, r.detail = "skipped", f"邮件嵌套超过 {ctx.limits.archive.depth} 层，未读取"
        r.limited = r.detail
        return
    parsed = parse_message(inner)
    r.text = parsed.body_text[: ctx.limits.max_text_chars]
    found = Unpacked(text=r.text)
    for a in parsed.attachments:
        if not ctx.budget.take(len(a.payload)):
            found.skipped.append(f"解压后超过每封邮件的上限，{a.filename} 及其后的附件未读取")
            break
        found.members.append(Member(safe_name(a.filename or "未命名附件"), a.payload))
    _read_members(r, ctx, found)


def _read_members(r: Reading, ctx: Context, result: Expanded | Unpacked) -> None:
    """A container's members, each read as a file of its own (one at a time); a member that could
    not be had (encrypted, damaged) is an unreadable file of its own."""
    if result.failed:
        limit = getattr(result, "limit", False)
        r.status, r.detail = ("skipped" if limit else "unreadable"), result.failed
        r.limited = result.failed if limit else ""
        r.technical = result.technical
        return
    r.status = "expanded"
    for member in result.members:
        name = member.name.rsplit("/", 1)[-1]
        if member.problem:
            child = Reading(filename=name, content_type="", payload=b"", depth=r.depth + 1, status="unreadable")
            child.type, child.detail = _type_by_name(name), member.problem
            if ctx.keep is not None:
                ctx.keep(child)
        else:
            child = ctx.read(name, member.payload, r.depth + 1)
        child.filename = member.name
        r.children.append(child)
    r.technical = result.technical
    r.detail = "；".join(result.skipped)
    r.limited = "；".join(result.skipped)


def _type_by_name(name: str) -> str:
    """The type a member's name says (its bytes could not be had): for what the receipt calls it."""
    ext = name.lower().rsplit(".", 1)[-1] if "." in name else ""
    by_ext = {v: k for k, v in EXTENSIONS.items()} | {"jpg": "jpeg", "jpeg": "jpeg", "tif": "tiff", "htm": "html"}
    return by_ext.get(ext, "unknown")
