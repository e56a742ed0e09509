"""The words of the campaign, as people read them: flag codes and their Chinese labels and
advice, review states, field names, roles, classifications, states of mail. One source for each:
every page, mail, workbook and export reads them here."""

from __future__ import annotations

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
    "attachment_unreadable": ("附件无法读取", "请按括号内的说明处理后，重新发送该文件"),
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
    "suspicious_text": (
        "疑似公式文字",
        "姓名、单位或职务以“=”“+”“-”“@”开头，已按文字保存；请核实填写内容，无误请告知总局非公党建办",
    ),
    "read_by_ocr": (
        "扫描件文字识别",
        "扫描件中的内容已用文字识别读出，由我办人工核对；如有可编辑的电子版（Word/Excel），请一并发送",
    ),
    "seal_missing": ("未见公章", "扫描件的意见栏有签字或日期，但未见公章，请盖章后重新扫描发送"),
    "signature_invalid": (
        "数字签名未通过校验",
        "材料已照常读取；如邮件并非你单位发出或发出后被改动，请与总局非公党建办联系",
    ),
}

# Flags that are news for the province but nothing it must fix.
INFORMATIONAL = frozenset(
    {"supersedes_earlier", "over_quota_individuals", "over_quota_units", "signature_invalid", "read_by_ocr"}
)

# Not a flag: what a receipt says when the province could not be told from the mail.
PROVINCE_UNKNOWN = ("未能确定报送省份", "请在邮件主题中注明省（区、市）名称后重新发送")

KIND_TEXT = {"individual": "个人", "unit": "单位"}
ROLE_TEXT_OF_FILE = {
    "individual_form": "个人推荐表",
    "unit_form": "单位推荐表",
    "forms": "推荐表",
    "nominee_list": "推荐汇总表",
    "narrative": "事迹材料",
    "archive": "压缩包",
    "mail": "Outlook邮件",
    "scan": "扫描件",
    "other": "其他",
}
CLASSIFICATION_TEXT = {
    "submission": "报送材料",
    "reply": "回复",
    "auto_reply": "自动回复",
    "bounce": "退信",
    "unrelated": "无关邮件",
    "duplicate": "重复邮件",
    "new": "待处理",
    "processing": "处理中",
    "failed": "处理失败",
}
STATUS_TEXT = {
    "parsed": "已识别",
    "unreadable": "无法读取",
    "scan_only": "仅收存",
    "expanded": "已解压",
    "skipped": "已收存",
}


# What a receipt says while a submission's province is unknown (a person names it, then it goes).
HELD_FOR_PROVINCE = "报送省份未能确定，待人工指定后发送"

OUTBOX_KIND_TEXT = {"receipt": "回执", "reminder": "催报", "return": "退回修改", "summary": "每日汇总"}
OUTBOX_STATE_TEXT = {
    "draft": "待审",
    "queued": "待发",
    "sending": "发送中",
    "sent": "已发送",
    "failed": "发送失败",
    "discarded": "已作废",
    "suppressed": "不发送",
}
RECEIVED_SOURCE_TEXT = {
    "internaldate": "邮件服务器收件时间",
    "received": "邮件服务器的收件记录",
    "date": "邮件的发信时间",
    "fetched": "读取时间",
}
SOURCE_TEXT = {"form": "推荐表", "list": "汇总表", "pdf": "PDF", "ocr": "扫描件文字识别"}

# ------------------------------------------------------------------ review

REVIEW_STATES: dict[str, str] = {
    "pending": "待审",
    "approved": "初审通过",
    "rejected": "不予推荐",
    "reserve": "备选",
    "withdrawn": "已撤回",
}
REVIEW_SHORT = {"approved": "通过", "rejected": "不予", "reserve": "备选", "pending": "待审", "withdrawn": "撤回"}

# ------------------------------------------------------------------ people

ROLES = ("viewer", "reviewer", "admin")
ROLE_TEXT = {"viewer": "查看", "reviewer": "审核", "admin": "管理"}
# Who may do what: a viewer reads; a reviewer corrects, assigns, reclassifies and checks flags;
# an admin also manages users.
CAN_CHANGE = ("reviewer", "admin")
CLASSIFICATIONS = ("submission", "reply", "auto_reply", "bounce", "unrelated", "duplicate")

# ------------------------------------------------------------------ fields

# The fields a reviewer may correct, with their names in the console.
FIELD_NAMES: dict[str, str] = {
    "name": "姓名/单位名称",
    "kind": "类别",
    "rank": "推荐排序",
    "sex": "性别",
    "birth": "出生年月",
    "ethnicity": "民族",
    "political": "政治面貌",
    "workplace": "工作单位及职务",
    "post": "职务",
    "phone": "联系电话",
    "education": "学历",
    "head": "单位负责人",
    "address": "单位地址",
    "deeds": "主要事迹",
}
MORE_FIELD_NAMES = {
    "work_start": "参加工作时间",
    "party_date": "入党时间",
    "unit_name": "单位名称",
    "contact": "联系人",
    "staff": "职工人数",
    "level": "单位级别",
    "kind": "类别（表内）",
    "seq": "序号",
    "province": "省份（表内）",
    "remark": "备注",
}
# The order a nominee's fields are shown in.
FIELD_ORDER = [
    "sex",
    "birth",
    "ethnicity",
    "political",
    "education",
    "work_start",
    "party_date",
    "workplace",
    "post",
    "phone",
    "unit_name",
    "head",
    "address",
    "contact",
    "staff",
    "level",
    "deeds",
]


def field_label(name: str) -> str:
    return FIELD_NAMES.get(name) or MORE_FIELD_NAMES.get(name) or name


def labels(kind: str, key: str) -> str:
    table = {
        "flag": {k: v[0] for k, v in FLAG_TEXT.items()},
        "advice": {k: v[1] for k, v in FLAG_TEXT.items()},
        "kind": KIND_TEXT,
        "role": ROLE_TEXT_OF_FILE,
        "status": STATUS_TEXT,
        "classification": CLASSIFICATION_TEXT,
        "receipt": OUTBOX_STATE_TEXT,
        "outbox_kind": OUTBOX_KIND_TEXT,
        "outbox": OUTBOX_STATE_TEXT,
        "review": REVIEW_STATES,
        "user_role": ROLE_TEXT,
        "received_source": RECEIVED_SOURCE_TEXT,
        "source": SOURCE_TEXT,
    }[kind]
    return table.get(key, key)


def file_status(status: str, role: str) -> str:
    """What became of a file, as a receipt and the console say it: a file read to the end in which
    no form, list or narrative was found is never said to be 已识别."""
    if status == "parsed" and role in ("other", "scan"):
        return "未读出推荐表、汇总表或事迹材料"
    if status == "expanded" and role == "mail":
        return "已读取其中的附件"
    return labels("status", status)


def review_line(counts: dict[str, int]) -> str:
    """通过3 备选1 待审2: the review states that have anyone in them, in the order of the review."""
    return " ".join(f"{label}{counts[s]}" for s, label in REVIEW_SHORT.items() if counts.get(s))


def deadline_phrase(days_left: int) -> str:
    """Days to the deadline as an office says it: never a negative count."""
    if days_left > 0:
        return f"距报送截止还有 {days_left} 天"
    if days_left == 0:
        return "今天为报送截止日"
    return f"报送截止已逾期 {-days_left} 天"
