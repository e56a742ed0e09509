"""Console users: added, disabled and enabled, their passwords reset, signed in (with a wait
after repeated failures for one name or from one address). Disabling a user, a new password and
signing out raise the user's session version, which ends every session signed before it."""

from __future__ import annotations

from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from intake.core.errors import ActionError, LoginRefused
from intake.core.vocabulary import ROLE_TEXT, ROLES
from intake.office.audit import actor_name, audit
from store.models import LoginAttempt
from store.repo import Repo, Store, User

ADMIN = ("admin",)
LOGIN_WINDOW = timedelta(minutes=15)
LOGIN_FAILURES = 5
# Checked against when no such user exists, so a wrong name costs the same time as a wrong password.
_NOBODY = PasswordHasher().hash("no such user: this hash is only ever compared against")


def hash_password(password: str) -> str:
    return PasswordHasher().hash(password)


def _valid_password(password: str) -> None:
    if len(password) < 8:
        raise ActionError("密码至少8个字符")


def add_user(
    store: Store, name: str, role: str, password: str, *, by: str | User = "命令行", replace: bool = True
) -> None:
    """A new user; an existing one's role and password set anew when ``replace`` (the command
    line's ``user add``), refused otherwise (the console's 添加用户)."""
    name = name.strip()
    if not name or len(name) > 100:
        raise ActionError("用户名不能为空，且不超过100个字符")
    if role not in ROLES:
        raise ActionError(f"角色只能是 {'、'.join(ROLES)}")
    _valid_password(password)
    with store.session() as repo:
        by = actor_name(by, ADMIN)
        user = repo.user(name)
        if user is None:
            repo.add(User(name=name, role=role, password_hash=hash_password(password), active=True))
            audit(repo, by, "user_add", f"user:{name}", f"新增用户 {name}（{ROLE_TEXT[role]}）")
        elif not replace:
            raise ActionError(f"用户 {name} 已存在：如需重设密码，请在该用户一行中操作")
        else:
            user.role, user.password_hash, user.active = role, hash_password(password), True
            user.session_version += 1
            audit(repo, by, "user_update", f"user:{name}", f"更新用户 {name}（{ROLE_TEXT[role]}）及密码")


def list_users(store: Store) -> list[User]:
    with store.session() as repo:
        return repo.users()


def _named(repo: Repo, name: str) -> User:
    user = repo.user(name.strip())
    if user is None:
        raise ActionError(f"没有名为 {name.strip()} 的用户")
    return user


def set_active(store: Store, name: str, active: bool, *, by: str | User) -> bool:
    """Disable (ending every session of the user at once) or enable a user; False when it already
    was. The last active admin is never disabled: nobody could then manage users."""
    with store.session() as repo:
        actor = actor_name(by, ADMIN)
        user = _named(repo, name)
        if user.active == active:
            return False
        if not active and user.role == "admin":
            admins = [u for u in repo.users() if u.role == "admin" and u.active and u.id != user.id]
            if not admins:
                raise ActionError("不能停用最后一个管理员")
        user.active = active
        user.session_version += 1
        word = "启用" if active else "停用"
        audit(repo, actor, "user_enable" if active else "user_disable", f"user:{user.name}", f"{word}用户 {user.name}")
        return True


def set_password(store: Store, name: str, password: str, *, by: str | User) -> None:
    """A new password; every session the user had ends."""
    _valid_password(password)
    with store.session() as repo:
        actor = actor_name(by, ADMIN)
        user = _named(repo, name)
        user.password_hash = hash_password(password)
        user.session_version += 1
        audit(repo, actor, "user_password", f"user:{user.name}", f"重设用户 {user.name} 的密码")


def end_sessions(store: Store, user_id: int) -> None:
    """Signed out: this session, and any other of the same user, ends."""
    with store.session() as repo:
        user = repo.user_by_id(user_id)
        if user is not None:
            user.session_version += 1


def authenticate(store: Store, name: str, password: str, address: str, now: datetime) -> tuple[int, int]:
    """The user's id and session version, or LoginRefused. After five failures within 15 minutes
    for one name or from one address (the client's own, not a proxy's), that name or address
    waits 15 minutes, whatever password it tries. A name that does not exist costs a hash check
    like one that does."""
    name = name.strip()[:100]
    with store.session() as repo:
        since = now - LOGIN_WINDOW
        if (
            repo.failed_logins_since(since, name=name) >= LOGIN_FAILURES
            or repo.failed_logins_since(since, address=address) >= LOGIN_FAILURES
        ):
            raise LoginRefused("登录失败次数过多，请15分钟后再试")
        user = repo.user(name)
        known = user is not None and user.active
        try:
            ok = PasswordHasher().verify(user.password_hash if user is not None and known else _NOBODY, password)
        except (VerificationError, InvalidHashError):
            ok = False
        ok = ok and known
        repo.add(LoginAttempt(name=name, address=address[:100], ok=ok, at=now))
        if not ok or user is None:
            repo.commit()
            raise LoginRefused("用户名或密码不正确")
        return user.id, user.session_version
