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
    return Expanded(failed=f"{kind} archives are not supported: send the files themselves or a .zip")


def _expand_zip(payload: bytes, limits: ArchiveLimits) -> Expanded:
    out = Expanded()
    try:
        zf = zipfile.ZipFile(io.BytesIO(payload))
    except ZIP_ERRORS as exc:
        out.failed = f"zip archive damaged: {exc}"
        return out
    total = 0
    with zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
        if len(infos) > limits.members:
            out.problems.append(f"archive has {len(infos)} files; only the first {limits.members} were read")
            infos = infos[: limits.members]
        for info in infos:
            name = safe_name(_zip_name(info))
            if info.flag_bits & 0x1:
                out.problems.append(f"{name}: encrypted in the archive, cannot be read")
                continue
            if total + info.file_size > limits.total_bytes:
                out.problems.append(f"{name}: archive expands beyond {limits.total_bytes} bytes; rest not read")
                break
            try:
                with zf.open(info) as fh:
                    data = fh.read(limits.total_bytes - total + 1)
            except ZIP_ERRORS as exc:
                out.problems.append(f"{name}: cannot be extracted ({exc})")
                continue
            if total + len(data) > limits.total_bytes:
                out.problems.append(f"{name}: archive expands beyond {limits.total_bytes} bytes; rest not read")
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
        out.failed = "7z support is not installed"
        return out
    try:
        with py7zr.SevenZipFile(io.BytesIO(payload), mode="r") as archive:
            infos = [i for i in archive.list() if not i.is_directory]
            if len(infos) > limits.members:
                out.failed = f"7z archive has {len(infos)} files, more than {limits.members}"
                return out
            declared = sum(int(i.uncompressed or 0) for i in infos)
            if declared > limits.total_bytes:
                out.failed = f"7z archive expands to {declared} bytes, more than {limits.total_bytes}"
                return out
            if archive.needs_password():
                out.failed = "7z archive is encrypted"
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
    ) as exc:
        out.failed = f"7z archive cannot be read: {type(exc).__name__}: {exc}"
    return out
