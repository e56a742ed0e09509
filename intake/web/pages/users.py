"""用户: each user's name, role, state and when added; their last sign-in."""

from __future__ import annotations

from typing import Any

from store.repo import Repo


def users_page(repo: Repo) -> dict[str, Any]:
    last = repo.last_logins()
    return {
        "users": [
            {
                "name": u.name,
                "role": u.role,
                "active": u.active,
                "created": u.created_at,
                "last_login": last.get(u.name),
            }
            for u in repo.users()
        ]
    }
