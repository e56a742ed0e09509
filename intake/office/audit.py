"""Who is acting, and the record of what they did.

Every change a person makes goes through one function of ``intake.office``, which checks what it
is asked, makes the change and writes its audit row in the same transaction; the console and the
command line call the same functions. What people decide is stored beside what the parsers read
(corrections, message overrides, checked flags, reviews) and laid over it after every reading, so
``reprocess`` keeps it.
"""

from __future__ import annotations

from typing import Any

from intake.core.errors import ActionError
from intake.core.vocabulary import CAN_CHANGE
from store.repo import Repo, User


def audit(repo: Repo, actor: str, action: str, target: str, summary: str, reason: str = "", **detail: Any) -> None:
    """The record of one change, added in the change's own transaction."""
    repo.add_audit(actor, action, target, summary, reason, **detail)


def actor_name(by: str | User | None, roles: tuple[str, ...] = CAN_CHANGE) -> str:
    """The person acting: a console user (checked against ``roles``) or a name given on the
    command line, which runs with the server's own rights."""
    if isinstance(by, User) or by is None:
        if by is None or not by.active or by.role not in roles:
            raise ActionError("没有权限进行此操作")
        return by.name
    return by
