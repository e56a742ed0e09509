"""Console users: added, and signed in (with a wait after repeated failures)."""

from __future__ import annotations

from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from intake.core.errors import ActionError, LoginRefused
from intake.core.vocabulary import ROLE_TEXT, ROLES
from intake.office.audit import audit
from store.models import LoginAttempt
from store.repo import Store, User

LOGIN_WINDOW = timedelta(minutes=15)
LOGIN_FAILURES = 5


def hash_password(password: str) -> str:
    return PasswordHasher().hash(password)


def add_user(store: Store, name: str, role: str, password: str, *, by: str = "命令行") -> None:
    name = name.strip()
    if not name or len(name) > 100:
        raise ActionError("用户名不能为空，且不超过100个字符")
    if role not in ROLES:
        raise ActionError(f"角色只能是 {'、'.join(ROLES)}")
    if len(password) < 8:
        raise ActionError("密码至少8个字符")
    with store.session() as repo:
        user = repo.user(name)
        if user is None:
            repo.add(User(name=name, role=role, password_hash=hash_password(password), active=True))
            audit(repo, by, "user_add", f"user:{name}", f"新增用户 {name}（{ROLE_TEXT[role]}）")
        else:
            user.role, user.password_hash, user.active = role, hash_password(password), True
            audit(repo, by, "user_update", f"user:{name}", f"更新用户 {name}（{ROLE_TEXT[role]}）及密码")


def authenticate(store: Store, name: str, password: str, address: str, now: datetime) -> int:
    """The user's id, or LoginRefused. After five failures within 15 minutes for one name or from
    one address, that name or address waits 15 minutes, whatever password it tries."""
    name = name.strip()[:100]
    with store.session() as repo:
        since = now - LOGIN_WINDOW
        if (
            repo.failed_logins_since(since, name=name) >= LOGIN_FAILURES
            or repo.failed_logins_since(since, address=address) >= LOGIN_FAILURES
        ):
            raise LoginRefused("登录失败次数过多，请15分钟后再试")
        user = repo.user(name)
        ok = False
        if user is not None and user.active:
            try:
                ok = PasswordHasher().verify(user.password_hash, password)
            except (VerificationError, InvalidHashError):
                ok = False
        repo.add(LoginAttempt(name=name, address=address[:100], ok=ok, at=now))
        if not ok or user is None:
            repo.commit()
            raise LoginRefused("用户名或密码不正确")
        return user.id
