"""Archives: zip (GBK member names), 7z. Bounded in members, size and depth; names neutralised."""

from __future__ import annotations

import io
import posixpath
import zipfile
import zlib
from dataclasses import dataclass, field

from parsers.charsets import decode_bytes

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
    total_bytes: int = 512 * 1024 * 1024
    depth: int = 3


@dataclass
class Member:
    name: str
    payload: bytes


@dataclass
class Expanded:
    members: list[Member] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    failed: str | None = None  # the archive could not be opened at all


def safe_name(name: str) -> str:
    """A member name with no way out of its folder: no ``..``, no root, no NUL, bounded length."""
    name = name.replace("\\", "/").replace("\x00", "")
    parts = [p for p in posixpath.normpath("/" + name).split("/") if p not in ("", ".", "..")]
    cleaned = "/".join(parts) or "unnamed"
    if len(cleaned) > 255:
        stem, dot, ext = cleaned.rpartition(".")
        cleaned = (stem[: 250 - len(ext)] + dot + ext) if dot and len(ext) < 10 else cleaned[:255]
    return cleaned


def _zip_name(info: zipfile.ZipInfo) -> str:
    if info.flag_bits & 0x800:
        return info.filename
    # No UTF-8 flag: Python decoded the bytes as cp437; Chinese Windows wrote them in GBK.
    try:
        raw = info.filename.encode("cp437")
    except UnicodeEncodeError:
        return info.filename
    return decode_bytes(raw)


def expand(payload: bytes, kind: str, limits: ArchiveLimits) -> Expanded:
    if kind == "zip":
        return _expand_zip(payload, limits)
    if kind == "7z":
        return _expand_7z(payload, limits)
    return Expanded(failed=f"不支持{kind.upper()}格式的压缩包，请直接发送文件或改用ZIP压缩")


def _mib(n: int) -> str:
    return f"{n / 1048576:.0f} MB"


def _expand_zip(payload: bytes, limits: ArchiveLimits) -> Expanded:
    out = Expanded()
    try:
        zf = zipfile.ZipFile(io.BytesIO(payload))
    except ZIP_ERRORS:
        out.failed = "ZIP压缩包已损坏，无法解压"
        return out
    total = 0
    with zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
        if len(infos) > limits.members:
            out.problems.append(f"压缩包内有 {len(infos)} 个文件，只读取了前 {limits.members} 个")
            infos = infos[: limits.members]
        for info in infos:
            name = safe_name(_zip_name(info))
            if info.flag_bits & 0x1:
                out.problems.append(f"{name}：已加密，无法读取")
                continue
            if total + info.file_size > limits.total_bytes:
                out.problems.append(f"{name}：解压后超过 {_mib(limits.total_bytes)}，其余文件未读取")
                break
            try:
                with zf.open(info) as fh:
                    data = fh.read(limits.total_bytes - total + 1)
            except ZIP_ERRORS:
                out.problems.append(f"{name}：无法解压")
                continue
            if total + len(data) > limits.total_bytes:
                out.problems.append(f"{name}：解压后超过 {_mib(limits.total_bytes)}，其余文件未读取")
                break
            total += len(data)
            out.members.append(Member(name, data))
    return out


def _expand_7z(payload: bytes, limits: ArchiveLimits) -> Expanded:
    out = Expanded()
    try:
        import py7zr
        from py7zr.exceptions import (
            ArchiveError,
            Bad7zFile,
            PasswordRequired,
            UnsupportedCompressionMethodError,
        )
        from py7zr.io import BytesIOFactory
    except ImportError:
        out.failed = "本系统未安装7Z解压组件"
        return out
    try:
        with py7zr.SevenZipFile(io.BytesIO(payload), mode="r") as archive:
            infos = [i for i in archive.list() if not i.is_directory]
            if len(infos) > limits.members:
                out.failed = f"7Z压缩包内有 {len(infos)} 个文件，超过 {limits.members} 个的上限"
                return out
            declared = sum(int(i.uncompressed or 0) for i in infos)
            if declared > limits.total_bytes:
                out.failed = f"7Z压缩包解压后为 {_mib(declared)}，超过 {_mib(limits.total_bytes)} 的上限"
                return out
            if archive.needs_password():
                out.failed = "7Z压缩包已加密，无法读取"
                return out
            factory = BytesIOFactory(limits.total_bytes)
            archive.extractall(factory=factory)
            for name, product in factory.products.items():
                product.seek(0)
                out.members.append(Member(safe_name(name), product.read()))
    except (
        Bad7zFile,
        ArchiveError,
        PasswordRequired,
        UnsupportedCompressionMethodError,
        OSError,
        ValueError,
        EOFError,
        KeyError,
        IndexError,
        TypeError,
    ):
        out.failed = "7Z压缩包已损坏，无法解压"
    return out
