"""Words shown to people: flag labels and advice, and the Jinja2 templates in ``config/templates``."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateNotFound, select_autoescape

from intake.core.errors import ConfigError

FLAG_TEXT: dict[str, tuple[str, str]] = {
    "late": ("逾期报送", "报送时间晚于截止时间，请与总局非公党建办联系说明情况"),
    "over_quota_individuals": ("个人超出名额", "推荐个人超过分配名额，按所注排序择优，超出部分作为备选"),
    "over_quota_units": ("单位超出名额", "推荐单位超过分配名额，按所注排序择优，超出部分作为备选"),
    "ranking_missing": ("超名额未排序", "超过分配名额的，请在推荐表或汇总表中注明排序（1、2、3……，不重复、不间断）"),
    "narrative_too_long": ("事迹材料超长", "事迹材料不超过规定字数（按Word字数统计），请压缩后重新报送"),
    "narrative_missing": ("缺少事迹材料", "请补报该推荐对象的事迹材料，文件名或标题中注明姓名/单位名称"),
    "opinion_missing": ("意见栏为空", "请填写推荐单位意见及组织部门/两新工委意见并盖章后重新报送"),
    "eligibility_warning": (
        "推荐对象范围提示",
        "请核实推荐对象是否符合通知要求（个人以工商和市场监管部门干部为主，单位以市县及以下为主）",
    ),
    "sender_unregistered": ("发件地址未登记", "请使用登记的单位邮箱报送，或由登记邮箱确认"),
    "attachment_unreadable": ("附件无法读取", "请重新发送可打开的Word/Excel/PDF文件（不加密、未损坏）"),
    "scan_only": ("仅有扫描件", "扫描件已收存，请同时提供可编辑的电子版（Word/Excel）"),
    "supersedes_earlier": ("更正报送", "本次报送已替换此前报送的同类推荐对象，无需处理"),
    "nothing_recognised": (
        "未识别出推荐对象",
        "请以附件形式发送推荐表（附件2个人推荐表、附件3单位推荐表）的Word或Excel电子版",
    ),
    "narrative_unmatched": ("事迹材料未对应", "请在事迹材料的文件名或标题中注明推荐对象姓名或单位名称"),
    "form_missing": ("缺少推荐表", "汇总表列出的推荐对象，请补报其推荐表"),
    "not_listed": ("汇总表未列入", "请核对汇总表与推荐表，补列或说明"),
    "parse_failed": ("邮件无法解析", "请重新发送，或将材料压缩后作为附件发送"),
    "attachment_skipped": ("附件未读取", "附件超出大小或数量限制，请分封邮件发送"),
}

# Flags that are news for the province but nothing it must fix.
INFORMATIONAL = frozenset({"supersedes_earlier", "over_quota_individuals", "over_quota_units"})

# Not a flag: what a receipt says when the province could not be told from the mail.
PROVINCE_UNKNOWN = ("未能确定报送省份", "请在邮件主题中注明省（区、市）名称后重新发送")

KIND_TEXT = {"individual": "个人", "unit": "单位"}
ROLE_TEXT = {
    "individual_form": "个人推荐表",
    "unit_form": "单位推荐表",
    "forms": "推荐表",
    "nominee_list": "推荐汇总表",
    "narrative": "事迹材料",
    "archive": "压缩包",
    "scan": "扫描件",
    "other": "其他",
}
CLASSIFICATION_TEXT = {
    "submission": "报送材料",
    "auto_reply": "自动回复",
    "bounce": "退信",
    "unrelated": "无关邮件",
    "duplicate": "重复邮件",
    "new": "待处理",
    "processing": "处理中",
    "failed": "处理失败",
}
RECEIPT_TEXT = {
    "queued": "待发送",
    "sending": "发送中",
    "sent": "已发送",
    "failed": "发送失败",
    "suppressed": "不发送",
}
STATUS_TEXT = {
    "parsed": "已识别",
    "unreadable": "无法读取",
    "scan_only": "仅收存",
    "expanded": "已解压",
    "skipped": "已收存",
}


def labels(kind: str, key: str) -> str:
    table = {
        "flag": {k: v[0] for k, v in FLAG_TEXT.items()},
        "advice": {k: v[1] for k, v in FLAG_TEXT.items()},
        "kind": KIND_TEXT,
        "role": ROLE_TEXT,
        "status": STATUS_TEXT,
        "classification": CLASSIFICATION_TEXT,
        "receipt": RECEIPT_TEXT,
    }[kind]
    return table.get(key, key)


def deadline_phrase(days_left: int) -> str:
    """Days to the deadline as an office says it: never a negative count."""
    if days_left > 0:
        return f"距报送截止还有 {days_left} 天"
    if days_left == 0:
        return "今天为报送截止日"
    return f"报送截止已逾期 {-days_left} 天"


@lru_cache(maxsize=8)
def _environment(folder: str) -> Environment:
    return Environment(
        loader=FileSystemLoader(folder),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_template(settings: Any, name: str, context: dict[str, Any]) -> str:
    folder = str(Path(settings.templates))
    env = _environment(folder)
    try:
        return env.get_template(name).render(**context)
    except TemplateNotFound as exc:
        raise ConfigError(f"template {name} not found in {folder}") from exc
