"""用户: an admin adds users, disables and enables them, and resets their passwords. Disabling a
user or a new password ends every session the user has, at once."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from intake.office.users import add_user, set_active, set_password
from intake.web.auth import act, page
from intake.web.console import console
from intake.web.pages.users import users_page
from store.repo import User

ADMIN = ("admin",)


@page(ADMIN)
async def users(request: Request, user: User, form: dict[str, str]) -> Response:
    c = console(request)
    data = await c.read(users_page)
    return c.render(request, "users.html", user, **data)


@page(ADMIN)
async def add(request: Request, user: User, form: dict[str, str]) -> Response:
    c = console(request)
    if form.get("password", "") != form.get("again", ""):
        return c.render(request, "error.html", user, 400, message="两次输入的密码不一致", back="/users")
    return await act(
        request,
        user,
        "/users",
        lambda: add_user(
            c.store, form.get("name", ""), form.get("role", ""), form.get("password", ""), by=user, replace=False
        ),
    )


@page(ADMIN)
async def change(request: Request, user: User, form: dict[str, str]) -> Response:
    c = console(request)
    name = form.get("name", "")
    what = form.get("what", "")
    if what == "password":
        if form.get("password", "") != form.get("again", ""):
            return c.render(request, "error.html", user, 400, message="两次输入的密码不一致", back="/users")
        return await act(
            request, user, "/users", lambda: set_password(c.store, name, form.get("password", ""), by=user)
        )
    if what in ("disable", "enable"):
        return await act(request, user, "/users", lambda: set_active(c.store, name, what == "enable", by=user))
    return c.render(request, "error.html", user, 400, message="未知的操作", back="/users")


routes = [
    Route("/users", users),
    Route("/users/add", add, methods=["POST"]),
    Route("/users/change", change, methods=["POST"]),
]
