"""Archives: zip (GBK member names), 7z, RAR 4 and 5 (``rarfile``, with Debian's ``unar`` or
``bsdtar`` unpacking compressed members). Bounded in members, size and depth; names neutralised.
A member that is encrypted, or cannot be unpacked, comes back as a member with a problem and no
bytes, so each is named and flagged on its own.

One :class:`Budget` per message bounds everything unpacked from it, at every level of nesting: a
zip of zips shares the budget of the message it came in, and no member is decompressed past what is
left of it, so a bomb stops at the budget rather than after it.
"""

from __future__ import annotations

import io
import posixpath
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field

import py7zr
import rarfile
from py7zr.exceptions import ArchiveError, Bad7zFile, PasswordRequired, UnsupportedCompressionMethodError
from py7zr.io import BytesIOFactory

from parsers.charsets import decode_bytes, one_line

# What reading a damaged zip can raise: a bad directory, a corrupt deflate stream, a truncation,
# a compression method or encryption zipfile does not know.
ZIP_ERRORS: tuple[type[BaseException], ...] = (
    zipfile.BadZipFile,
    zlib.error,
    OSError,
    ValueError,
    EOFError,
    NotImplementedError,
    RuntimeError,
)


@dataclass(frozen=True)
class ArchiveLimits:
    members: int = 500
    total_bytes: int = 256 * 1024 * 1024
    depth: int = 3


# Any XML part of an Office file (document.xml, sharedStrings.xml, styles.xml…) is parsed whole:
# past this size (a real form's document.xml is well under 1 MB) it is not read at all.
OFFICE_XML_BYTES = 16 * 1024 * 1024


class Budget:
    """Bytes that may still be unpacked from one message."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.left = total

    def take(self, n: int) -> bool:
        if n > self.left:
            self.left = 0
            return False
        self.left -= n
        return True


ENCRYPTED_ARCHIVE = "压缩包设有密码，请发送不加密的压缩包或直接发送文件"


@dataclass
class Member:
    name: str
    payload: bytes
    problem: str = ""  # why it was not unpacked (encrypted, damaged): read as an unreadable file


@dataclass
class Expanded:
    members: Iterator[Member] | list[Member] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # members left unread because of a limit
    failed: str | None = None  # the archive could not be opened at all
    limit: bool = False  # ... because of a limit
    technical: str = ""  # the library's own words on a failure, for the office


def oversized_part(zf: zipfile.ZipFile, streamed: tuple[str, ...] = ()) -> zipfile.ZipInfo | None:
    """The first XML part of an Office file whose declared size is past ``OFFICE_XML_BYTES`` (parts
    under ``streamed`` are read as a stream and may be larger). zipfile never reads a member past
    its declared size, so the check holds against a lying header too."""
    for info in zf.infolist():
        if info.filename.startswith(streamed) if streamed else False:
            if info.file_size <= 64 * OFFICE_XML_BYTES:
                continue
            return info
        if info.filename.lower().endswith((".xml", ".rels")) and info.file_size > OFFICE_XML_BYTES:
            return info
    return None


def safe_name(name: str) -> str:
    """A member name with no way out of its folder: no ``..``, no root, no NUL, bounded length."""
    name = "/".join(one_line(p) for p in name.replace("\\", "/").split("/"))
    parts = [p for p in posixpath.normpath("/" + name).split("/") if p not in ("", ".", "..")]
    cleaned = "/".join(parts) or "unnamed"
    if len(cleaned) > 255:
        stem, dot, ext = cleaned.rpartition(".")
        cleaned = (stem[: 250 - len(ext)] + dot + ext) if dot and len(ext) < 10 else cleaned[:255]
    return cleaned


def _zip_name(info: zipfile.ZipInfo, decoded: bool) -> str:
    if info.flag_bits & 0x800 or decoded:
        return info.filename
    # No UTF-8 flag: Python decoded the bytes as cp437; Chinese Windows wrote them in GBK.
    try:
        raw = info.filename.encode("cp437")
    except UnicodeEncodeError:
        return info.filename
    return decode_bytes(raw)


def _names_encoding(zf: zipfile.ZipFile) -> str | None:
    """The one encoding every member name without the UTF-8 flag is written in (UTF-8 from a Mac
    or Linux, GB18030/GBK from Chinese Windows), for zipfile's ``metadata_encoding``; None when no
    single one reads them all (each name is then repaired on its own)."""
    raw = []
    for info in zf.infolist():
        if not info.flag_bits & 0x800:
            try:
                raw.append(info.filename.encode("cp437"))
            except UnicodeEncodeError:
                return None
    if not raw or all(r.isascii() for r in raw):
        return None
    for encoding in ("utf-8", "gb18030"):
        try:
            for r in raw:
                r.decode(encoding)
        except UnicodeDecodeError:
            continue
        return encoding
    return None


def expand(payload: bytes, kind: str, limits: ArchiveLimits, budget: Budget | None = None) -> Expanded:
    budget = budget or Budget(limits.total_bytes)
    if kind == "zip":
        return _expand_zip(payload, limits, budget)
    if kind == "7z":
        return _expand_7z(payload, limits, budget)
    if kind == "rar":
        return _expand_rar(payload, limits, budget)
    return Expanded(failed=f"不支持{kind.upper()}格式的压缩包，请直接发送文件或改用ZIP压缩")


def _mib(n: int) -> str:
    return f"{n / 1048576:.0f} MB"


def _expand_zip(payload: bytes, limits: ArchiveLimits, budget: Budget) -> Expanded:
    out = Expanded()
    try:
        zf = zipfile.ZipFile(io.BytesIO(payload))
        encoding = _names_encoding(zf)
        if encoding is not None:
            zf.close()
            zf = zipfile.ZipFile(io.BytesIO(payload), metadata_encoding=encoding)
        infos = [i for i in zf.infolist() if not i.is_dir()]
    except ZIP_ERRORS:
        out.failed = "ZIP压缩包已损坏，无法解压"
        return out
    if len(infos) > limits.members:
        out.skipped.append(f"压缩包内有 {len(infos)} 个文件，只读取了前 {limits.members} 个")
        infos = infos[: limits.members]
    out.members = _zip_members(zf, infos, budget, out, encoding is not None)
    return out


def _zip_members(
    zf: zipfile.ZipFile, infos: list[zipfile.ZipInfo], budget: Budget, out: Expanded, decoded: bool
) -> Iterator[Member]:
    """Members one at a time (the caller reads each before the next is unpacked)."""
    with zf:
        for index, info in enumerate(infos):
            name = safe_name(_zip_name(info, decoded))
            if info.flag_bits & 0x1:
                yield Member(name, b"", ENCRYPTED_ARCHIVE)
                continue
            rest = len(infos) - index - 1
            over = f"解压后超过每封邮件 {_mib(budget.total)} 的上限，{name} 及其后 {rest} 个文件未读取"
            if info.file_size > budget.left:
                out.skipped.append(over)
                return
            try:
                data = _read_bounded(zf, info, budget)
            except ZIP_ERRORS:
                yield Member(name, b"", "压缩包中的这个文件已损坏，无法解压")
                continue
            if data is None:
                out.skipped.append(over)
                return
            yield Member(name, data)


def _read_bounded(zf: zipfile.ZipFile, info: zipfile.ZipInfo, budget: Budget) -> bytes | None:
    """The member's bytes, None past the budget. zipfile decompresses no further than the size the
    member declares (and fails its CRC check when the data says otherwise), and that size was
    checked against the budget before a byte was decompressed."""
    with zf.open(info) as fh:
        data = fh.read(info.file_size)
    return data if budget.take(len(data)) else None


def _expand_7z(payload: bytes, limits: ArchiveLimits, budget: Budget) -> Expanded:
    out = Expanded()
    try:
        with py7zr.SevenZipFile(io.BytesIO(payload), mode="r") as archive:
            infos = [i for i in archive.list() if not i.is_directory]
            if len(infos) > limits.members:
                out.failed = f"7Z压缩包内有 {len(infos)} 个文件，超过 {limits.members} 个的上限，未解压"
                out.limit = True
                return out
            if archive.needs_password():
                # The names are readable, the contents are not: each member named as encrypted.
                out.members = [Member(safe_name(i.filename), b"", ENCRYPTED_ARCHIVE) for i in infos]
                return out
            declared = sum(int(i.uncompressed or 0) for i in infos)
            if declared > budget.left:
                out.failed = f"7Z压缩包解压后为 {_mib(declared)}，超过每封邮件 {_mib(budget.total)} 的上限，未解压"
                out.limit = True
                return out
            # The factory stops writing at its limit, whatever the headers declared.
            factory = BytesIOFactory(budget.left)
            archive.extractall(factory=factory)
            members = []
            for name, product in factory.products.items():
                product.seek(0)
                data = product.read()
                if not budget.take(len(data)):
                    out.skipped.append(f"解压后超过每封邮件 {_mib(budget.total)} 的上限，其余文件未读取")
                    break
                members.append(Member(safe_name(name), data))
            out.members = members
    except PasswordRequired:
        out.failed = ENCRYPTED_ARCHIVE  # the names themselves are encrypted
    except (
        Bad7zFile,
        ArchiveError,
        UnsupportedCompressionMethodError,
        OSError,
        ValueError,
        EOFError,
        KeyError,
        IndexError,
        TypeError,
    ) as exc:
        out.failed = "7Z压缩包已损坏，无法解压"
        out.technical = f"{type(exc).__name__}: {exc}"[:2000]
    return out


RAR_DAMAGED = "RAR压缩包已损坏，无法解压"


def _expand_rar(payload: bytes, limits: ArchiveLimits, budget: Budget) -> Expanded:
    out = Expanded()
    try:
        archive = rarfile.RarFile(io.BytesIO(payload), charset="gb18030")
        infos = [i for i in archive.infolist() if not i.is_dir()]
    except rarfile.NeedFirstVolume:
        out.failed = "这是分卷压缩包中的一卷，无法单独解压：请发送不分卷的压缩包或直接发送文件"
        return out
    except rarfile.PasswordRequired:
        out.failed = ENCRYPTED_ARCHIVE
        return out
    except (rarfile.Error, OSError, ValueError, EOFError, IndexError, KeyError, TypeError) as exc:
        out.failed, out.technical = RAR_DAMAGED, f"{type(exc).__name__}: {exc}"[:2000]
        return out
    if not infos:
        # The names themselves encrypted, or nothing rarfile could make out (it passes over a
        # damaged header without a word).
        out.failed = ENCRYPTED_ARCHIVE if archive.needs_password() else "RAR压缩包已损坏或其中没有文件，无法解压"
        return out
    if len(infos) > limits.members:
        out.skipped.append(f"压缩包内有 {len(infos)} 个文件，只读取了前 {limits.members} 个")
        infos = infos[: limits.members]
    out.members = _rar_members(archive, infos, budget, out)
    return out


def rar_program() -> str | None:
    """The program rarfile unpacks compressed RAR members with (unrar, unar, 7z or bsdtar), or None
    when none is installed (stored members are still read; compressed ones are named unread)."""
    try:
        setup = rarfile.tool_setup(force=True)
    except rarfile.RarCannotExec:
        return None
    command = setup.setup.get("open_cmd") or ("",)
    tool = str(command[0])
    return {"UNRAR_TOOL": rarfile.UNRAR_TOOL, "UNAR_TOOL": rarfile.UNAR_TOOL, "BSDTAR_TOOL": rarfile.BSDTAR_TOOL}.get(
        tool, rarfile.SEVENZIP_TOOL if "SEVENZIP" in tool else tool
    )


def _rar_name(info: rarfile.RarInfo) -> str:
    """A RAR 4 name without the Unicode flag is in the writer's code page (GBK on Chinese Windows,
    UTF-8 elsewhere): decoded as the zip names are, not tried as UTF-16 first as rarfile does."""
    raw = info.orig_filename
    if isinstance(info, rarfile.Rar3Info) and not info.flags & rarfile.RAR_FILE_UNICODE and isinstance(raw, bytes):
        return decode_bytes(raw).replace("\\", "/")
    return str(info.filename)


def _rar_members(
    archive: rarfile.RarFile, infos: list[rarfile.RarInfo], budget: Budget, out: Expanded
) -> Iterator[Member]:
    """Members one at a time. Stored members are read by rarfile itself; compressed ones through
    the unpacking program, never past the size the member declares (checked against the budget
    first) and checked against its CRC."""
    with archive:
        for index, info in enumerate(infos):
            name = safe_name(_rar_name(info))
            if info.needs_password():
                yield Member(name, b"", ENCRYPTED_ARCHIVE)
                continue
            rest = len(infos) - index - 1
            if info.file_size > budget.left:
                out.skipped.append(f"解压后超过每封邮件 {_mib(budget.total)} 的上限，{name} 及其后 {rest} 个文件未读取")
                return
            try:
                with archive.open(info) as fh:
                    data = fh.read(info.file_size + 1)
            except rarfile.RarCannotExec as exc:
                out.technical = f"{type(exc).__name__}: {exc}"
                yield Member(name, b"", "服务器上缺少RAR解压程序，暂未读取（原文件已收存，装好后重新读取即可）")
                continue
            except (rarfile.Error, OSError, ValueError, EOFError, IndexError, KeyError, TypeError) as exc:
                out.technical = f"{type(exc).__name__}: {exc}"[:2000]
                yield Member(name, b"", "压缩包中的这个文件已损坏或分卷不全，无法解压")
                continue
            if len(data) > info.file_size:
                yield Member(name, b"", "压缩包中的这个文件已损坏，无法解压")
                continue
            if not budget.take(len(data)):
                out.skipped.append(f"解压后超过每封邮件 {_mib(budget.total)} 的上限，{name} 及其后 {rest} 个文件未读取")
                return
            yield Member(name, data)
