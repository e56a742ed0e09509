"""``make demo``: a few realistic province submissions into the embedded Maildir inbox.

Run ``python -m intake.dev.demo [MAILDIR]``; then ``intake poll`` reads them.
"""

from __future__ import annotations

import mailbox
import random
import sys
from datetime import datetime
from pathlib import Path

from intake.dev.samples import Person, Submission, Unit, auto_reply, build_message, person_name


def demo_messages(seed: int = 2017) -> list[bytes]:
    rng = random.Random(seed)
    dept = "市场监督管理局"
    bj = Submission(
        "北京市",
        "fgdj-bj@aic.example.cn",
        people=[
            Person(person_name(rng), "男", f"北京市海淀区{dept}党建科科长"),
            Person("王喆", "女", f"北京市朝阳区{dept}副局长"),
        ],
        units=[Unit(f"北京市东城区{dept}", "李堃")],
    )
    zj = Submission(
        "浙江省",
        "fgdj-zj@aic.example.cn",
        people=[Person(person_name(rng), "男", f"杭州市西湖区{dept}科员", rank=i) for i in (1, 2, 3)],
        narrative_words=1600,
    )
    hi_people = [Person(person_name(rng), "女", f"海口市龙华区{dept}所长") for _ in range(4)]
    hi_people[0].opinion = ""
    hi = Submission("海南省", "fgdj-hi@aic.example.cn", people=hi_people)
    sh = Submission(
        "上海市",
        "fgdj-sh@aic.example.cn",
        people=[Person(person_name(rng), "男", f"上海市浦东新区{dept}科长")],
        when=datetime.fromisoformat("2017-05-02T09:30:00+08:00"),
        subject="上海市推荐材料（补报）",
    )
    he = Submission(
        "河北省",
        "zhangsan1977@qq.com",
        subject="河北省工商局推荐材料",
        people=[Person(person_name(rng), "男", f"石家庄市长安区{dept}科长")],
    )
    messages = [build_message(s, rng, with_list=(s is zj)) for s in (bj, zj, hi, sh, he)]
    messages.append(auto_reply("fgdj-gd@aic.example.cn", rng))
    return messages


def write_maildir(path: Path, messages: list[bytes]) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    box = mailbox.Maildir(str(path), create=True)
    existing = {box.get_bytes(k) for k in box.iterkeys()}
    added = 0
    for raw in messages:
        if raw not in existing:
            box.add(raw)
            added += 1
    return added


def main(argv: list[str]) -> int:
    target = Path(argv[1]) if len(argv) > 1 else Path("var/mail/inbox")
    added = write_maildir(target, demo_messages())
    print(f"demo: {added} message(s) added to {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
