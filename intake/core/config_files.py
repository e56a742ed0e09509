"""How the configuration files are read: TOML, laid over the shipped defaults, provinces merged by
code, relative paths taken from the file's folder, secrets from the environment or a file, a
quota table from the notice's workbook. Plain dictionaries in, plain dictionaries out: the
settings model (``settings``) validates what comes of them."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any

from intake.core.errors import ConfigError
from parsers.quota import QuotaTableError, read_quota_table, short_province_name


def read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError as exc:
        raise ConfigError(f"configuration file not found: {path}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def merge_provinces(defaults: list[dict[str, Any]], given: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A province given by the user changes what it names in the default one with the same code or
    name (its senders, say, keeping its quota); ``drop = true`` takes a province out."""
    seen: set[str] = set()
    for entry in given:
        for key in (str(entry.get("code", "")), short_province_name(str(entry.get("name", "")))):
            if key and key in seen:
                raise ConfigError(f"provinces: province {key!r} appears twice in the quota table")
            seen.add(key)
    result = [dict(d) for d in defaults]
    dropped = []
    for entry in given:
        names = {str(entry.get("code", "")), short_province_name(str(entry.get("name", "")))} - {""}
        idx = next(
            (i for i, d in enumerate(result) if {d.get("code"), short_province_name(d.get("name", ""))} & names),
            None,
        )
        entry = dict(entry)
        drop = entry.pop("drop", False)
        if idx is None:
            if not drop:
                result.append(entry)
        elif drop:
            dropped.append(idx)
        else:
            result[idx] = {**result[idx], **entry}  # only what it names changes
    return [p for i, p in enumerate(result) if i not in dropped]


def resolve_secret(section: dict[str, Any], label: str) -> None:
    file = section.get("password_file")
    env = section.get("password_env")
    if "password" in section:
        raise ConfigError(f"{label}.password: secrets never sit in the file; set {label}.password_env instead")
    value: str | None = None
    if file:
        try:
            value = Path(file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"{label}.password_file: cannot read {file}: {exc.strerror}") from exc
    elif env:
        value = os.environ.get(str(env))
    if value:
        section["password"] = value


def relocate(data: dict[str, Any], base: Path) -> None:
    """Relative paths taken from ``base`` (the configuration file's folder, or the working directory)."""

    def fix(section: str, key: str) -> None:
        sect = data.get(section)
        if isinstance(sect, dict) and sect.get(key):
            p = Path(str(sect[key])).expanduser()
            sect[key] = str(p if p.is_absolute() else base / p)

    fix("archive", "path")
    fix("mailbox", "maildir")
    fix("smtp", "outbox")
    fix("campaign", "quota_table")
    fix("web", "secret_file")
    fix("mailbox", "password_file")
    fix("smtp", "password_file")
    fix("logging", "file")
    url = str(data.get("database", {}).get("url", ""))
    m = re.match(r"^(sqlite(?:\+\w+)?:///)(?!/)(.+)$", url)
    if m and m.group(2) != ":memory:":
        data["database"]["url"] = m.group(1) + str(base / m.group(2))


def quota_from_workbook(path: Path, provinces: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Quotas read from an allocation workbook (like the notice's 附件1) replace the table's."""
    try:
        payload = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"campaign.quota_table: cannot read {path}: {exc.strerror}") from exc
    try:
        rows = read_quota_table(payload)
    except QuotaTableError as exc:
        raise ConfigError(f"campaign.quota_table: {path.name}: {exc}") from exc
    by_name = {short_province_name(p["name"]): i for i, p in enumerate(provinces)}
    out = [dict(p) for p in provinces]
    for row in rows:
        idx = by_name.get(short_province_name(row.province))
        if idx is None:
            raise ConfigError(f"campaign.quota_table: {path.name}: unknown province {row.province!r}")
        out[idx].update(individuals=row.individuals, units=row.units)
    return out
