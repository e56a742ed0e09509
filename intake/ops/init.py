"""``intake init DIR [--data DIR]``: a new deployment: ``intake.toml`` (every setting, explained)
and ``campaign.toml`` (the 31 provinces in GB/T 2260 order, placeholder quotas and addresses), with
every data path absolute under one data folder, which ``init`` prepares: the archive and the
session key made, owned like the folder (run as root, they go to the service's user who owns it)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import tomlkit

from intake.core.errors import ConfigError
from intake.core.secret import secret_key
from intake.core.settings import DEFAULTS_DIR
from intake.ops.explained import EXPLAINED, SECTIONS, defaults, setting_names
from intake.ops.paths import default_data_folder, make_folder, own_like

# GB/T 2260 order, as the notice lists the provinces.
PROVINCES = (
    ("bj", "北京市"),
    ("tj", "天津市"),
    ("he", "河北省"),
    ("sx", "山西省"),
    ("nm", "内蒙古自治区"),
    ("ln", "辽宁省"),
    ("jl", "吉林省"),
    ("hl", "黑龙江省"),
    ("sh", "上海市"),
    ("js", "江苏省"),
    ("zj", "浙江省"),
    ("ah", "安徽省"),
    ("fj", "福建省"),
    ("jx", "江西省"),
    ("sd", "山东省"),
    ("ha", "河南省"),
    ("hb", "湖北省"),
    ("hn", "湖南省"),
    ("gd", "广东省"),
    ("gx", "广西壮族自治区"),
    ("hi", "海南省"),
    ("cq", "重庆市"),
    ("sc", "四川省"),
    ("gz", "贵州省"),
    ("yn", "云南省"),
    ("xz", "西藏自治区"),
    ("sn", "陕西省"),
    ("gs", "甘肃省"),
    ("qh", "青海省"),
    ("nx", "宁夏回族自治区"),
    ("xj", "新疆维吾尔自治区"),
)


PLACEHOLDER_DOMAIN = "placeholder.example"


def _placeholder_quota() -> list[tuple[int, int]]:
    """Placeholders summing to the notice's 200 individuals and 60 units: 7 for the first 14
    provinces and 6 for the rest; 2 units each but 1 for the last two."""
    n = len(PROVINCES)
    return [(7 if i < 14 else 6, 1 if i >= n - 2 else 2) for i in range(n)]


def intake_toml(data: Path) -> str:
    values = defaults()
    values["database"]["url"] = f"sqlite:///{data / 'intake.db'}"
    values["archive"]["path"] = str(data / "archive")
    values["web"]["secret_file"] = str(data / "web-secret")
    values["mailbox"]["maildir"] = str(data / "mail" / "inbox")
    values["mailbox"]["source"] = "imap"
    values["smtp"]["outbox"] = None
    values["summary"]["recipients"] = [f"office@{PLACEHOLDER_DOMAIN}"]
    doc = tomlkit.document()
    for line in (
        "intake: this deployment's settings. Every setting is here, with what it does. The data",
        f"(database, archive, caches, session key) is kept under {data}; a relative path would be",
        "taken from this file's folder. Secrets are never written here: the variables named by",
        "password_env (or a password_file) hold them. `intake check` says what is missing.",
    ):
        doc.add(tomlkit.comment(line))
    doc.add(tomlkit.nl())
    doc.add(tomlkit.comment(EXPLAINED["campaign_file"]))
    doc.add("campaign_file", "campaign.toml")
    doc.add(tomlkit.comment(EXPLAINED["templates"] + ": init copied the shipped ones there, to edit"))
    doc.add("templates", "templates")
    for section in SECTIONS:
        doc.add(tomlkit.nl())
        doc.add(section, _section(section, values.get(section, {})))
    return tomlkit.dumps(doc)


def _section(section: str, values: dict[str, Any]) -> Any:
    table = tomlkit.table()
    for name in setting_names():
        sec, _, key = name.partition(".")
        if sec != section:
            continue
        table.add(tomlkit.comment(EXPLAINED[name]))
        value = values.get(key)
        if value is None:
            table.add(tomlkit.comment(f"{key} ="))
        else:
            table.add(key, list(value) if isinstance(value, tuple) else value)
    return table


def campaign_toml() -> str:
    d = defaults()["campaign"]
    doc = tomlkit.document()
    for line in (
        "The campaign: its deadline and the quota table of the notice's 附件1 (名额分配表).",
        "THE NUMBERS BELOW ARE PLACEHOLDERS (they sum to the notice's 200 individuals and 60 units):",
        "copy each province's allocation from 附件1, and each province's registered sending",
        "addresses in place of the placeholder ones. `intake check` refuses placeholder addresses.",
        "A province left out of the campaign: keep its table with drop = true.",
    ):
        doc.add(tomlkit.comment(line))
    doc.add(tomlkit.nl())
    doc.add("campaign", _section("campaign", d))
    provinces = tomlkit.aot()
    for (code, name), (individuals, units) in zip(PROVINCES, _placeholder_quota(), strict=True):
        p = tomlkit.table()
        p.add("code", code)
        p.add("name", name)
        p.add("individuals", individuals)
        p["individuals"].comment("placeholder: from 附件1")
        p.add("units", units)
        p["units"].comment("placeholder: from 附件1")
        p.add("senders", [f"fgdj-{code}@{PLACEHOLDER_DOMAIN}"])
        p["senders"].comment("placeholder: the registered address(es)")
        provinces.append(p)
    doc.add("provinces", provinces)
    return tomlkit.dumps(doc)


def init(folder: Path, data: Path | None = None) -> list[Path]:
    """Write a new deployment into ``folder`` (intake.toml, campaign.toml, templates/) with its data under
    ``data`` (default: ``default_data_folder``), and prepare the data folder: made if missing,
    the archive folder and the session key made in it, owned like it."""
    folder = folder.expanduser().absolute()
    data = (data or default_data_folder(folder)).expanduser().absolute()
    targets = [folder / "intake.toml", folder / "campaign.toml"]
    for target in targets:
        if target.exists():
            raise ConfigError(f"{target} exists already: init never overwrites a deployment")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for target, text in zip(targets, (intake_toml(data), campaign_toml()), strict=True):
            target.write_text(text, encoding="utf-8")
        # The letters and the documents' .docx, for the office to edit in its own copy.
        templates = folder / "templates"
        templates.mkdir(exist_ok=True)
        for shipped in sorted((DEFAULTS_DIR / "templates").iterdir()):
            if shipped.is_file() and not (templates / shipped.name).exists():
                shutil.copyfile(shipped, templates / shipped.name)
        make_folder(data, 0o750)
        make_folder(data / "archive")
        key = data / "web-secret"
        secret_key(key)
        own_like(key, data)
    except OSError as exc:
        raise ConfigError(f"init: cannot write {exc.filename or folder}: {exc.strerror}") from exc
    return [*targets, data]
