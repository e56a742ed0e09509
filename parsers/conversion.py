"""What a reader is given to turn a legacy file (Word 97, WPS, Excel 97, RTF, a Word page saved as
HTML) into one it can read. Parsers start no process: the application hands them a ``Convert``."""

from __future__ import annotations

from typing import Protocol


class ConversionError(Exception):
    """The file could not be converted; the message is for people (Chinese), the cause is chained."""

    limit = False


class Convert(Protocol):
    def __call__(self, payload: bytes, source_ext: str, target: str) -> bytes:
        """``payload`` (a file of type ``source_ext``) as ``target`` ("docx", "xlsx", "pdf")."""
        ...


NO_CONVERTER = "本系统未安装文档转换组件，{kind}文件暂无法读取，已收存"
