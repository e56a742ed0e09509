"""Who may see and change what, in one place: signed session cookies, the sign-in, the CSRF token
every form carries, the role each route needs, and the headers every response carries (a
Content-Security-Policy that loads nothing from anywhere but the console, and runs no script)."""

from __future__ import annotations

import hmac
import ipaddress
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from intake.core.errors import ActionError, LoginRefused
from intake.core.vocabulary import ROLES
from intake.office.users import authenticate, end_sessions
from intake.web.console import console
from store.repo import User

log = logging.getLogger(__name__)
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; font-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
Endpoint = Callable[[Request], Awaitable[Response]]
Handler = Callable[[Request, User, dict[str, str]], Awaitable[Response]]


class SecurityHeaders:
    """Headers on every response: the CSP above, no sniffing, no framing, no referrer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                for name, value in (
                    (b"content-security-policy", CSP.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"x-frame-options", b"DENY"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"cache-control", b"no-store"),
                ):
                    if name not in names:
                        headers.append((name, value))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


def client_address(request: Request) -> str:
    """The address of the person's own machine: the peer's, or, when the peer is one of
    ``web.trusted_proxies``, the last address in X-Forwarded-For that is not a trusted proxy."""
    peer = request.client.host if request.client else ""
    proxies = console(request).settings.web.trusted_networks
    if not proxies or not _within(peer, proxies):
        return peer
    forwarded = [a.strip() for h in request.headers.getlist("x-forwarded-for") for a in h.split(",")]
    for address in reversed([a for a in forwarded if a]):
        if not _within(address, proxies):
            return address[:100]
    return peer


def _within(address: str, networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in networks)


def same_token(given: Any, expected: Any) -> bool:
    """The CSRF check: a constant-time compare that never raises, whatever was posted."""
    if not isinstance(given, str) or not isinstance(expected, str) or not expected:
        return False
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8", "replace"))


async def current_user(request: Request) -> User | None:
    c = console(request)
    uid = request.session.get("uid")
    if not isinstance(uid, int):
        return None
    issued = request.session.get("at", 0)
    if not isinstance(issued, int | float) or c.now().timestamp() - issued > c.settings.web.session_hours * 3600:
        request.session.clear()
        return None

    version = request.session.get("v")

    def load(repo: Any) -> User | None:
        user = repo.user_by_id(uid)
        # Disabled, a new password, signed out elsewhere: the session is of an earlier version.
        if user is None or not user.active or user.session_version != version:
            return None
        return user  # type: ignore[no-any-return]

    user = await c.read(load)
    if user is None:
        request.session.clear()
    return user  # type: ignore[no-any-return]


def page(roles: tuple[str, ...] = ROLES) -> Callable[[Handler], Endpoint]:
    """A route that needs a signed-in user of one of ``roles``; a POST also needs the CSRF token."""

    def wrap(fn: Handler) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            user = await current_user(request)
            if user is None:
                if request.method == "GET":
                    return RedirectResponse(f"/login?{urlencode({'next': request.url.path})}", status_code=303)
                return PlainTextResponse("请先登录", status_code=401)
            form: dict[str, str] = {}
            if request.method == "POST":
                data = await request.form()
                form = {k: v for k, v in data.items() if isinstance(v, str)}
                if not same_token(form.get("csrf", ""), request.session.get("csrf", "")):
                    return PlainTextResponse("表单已失效，请返回刷新页面后重试", status_code=403)
            if user.role not in roles:
                return console(request).render(request, "error.html", user, 403, message="没有权限进行此操作", back="/")
            return await fn(request, user, form)

        endpoint.__name__ = fn.__name__
        return endpoint

    return wrap


async def no_such_page(request: Request, exc: Exception) -> Response:
    """An address the console does not have (or a method it does not take), in the office's words:
    a plain page that names no route and needs no session to show."""
    status = getattr(exc, "status_code", 404)
    text = "没有这个页面" if status == 404 else "不支持这种访问方式"
    return PlainTextResponse(f"{text}。请从首页进入：/", status_code=status)


async def server_error(request: Request, exc: Exception) -> Response:
    log.error("console: %s %s failed", request.method, request.url.path, exc_info=exc)
    return PlainTextResponse("系统出错，未能完成。请稍后重试；如仍出错，请联系管理员查看日志。", status_code=500)


def not_found(request: Request, user: User, what: str) -> Response:
    return console(request).render(request, "error.html", user, 404, message=f"没有找到{what}", back="/")


async def act(request: Request, user: User, back: str, fn: Callable[[], Any]) -> Response:
    """Run a change; back where the person came from, or a page of what they should read first
    (warnings, what changed) when the change returns lines of it."""
    try:
        notes = await run_in_threadpool(fn)
    except ActionError as exc:
        return console(request).render(request, "error.html", user, 400, message=str(exc), back=back)
    if isinstance(notes, list) and notes:
        return console(request).render(request, "done.html", user, notes=notes, back=back)
    return RedirectResponse(back, status_code=303)


def local_target(target: str, default: str = "/") -> str:
    """A place to go back to within the console, never elsewhere."""
    return target if target.startswith("/") and not target.startswith("//") else default


async def login(request: Request) -> Response:
    # The form carries the session's token like every other, but signing in is not refused
    # without it: it changes no data, and scripts sign in by posting username and password.
    # The session is made anew on success, so no cookie set before it survives.
    c = console(request)
    if "csrf" not in request.session:
        request.session["csrf"] = secrets.token_urlsafe(32)
    target = local_target(request.query_params.get("next", "/"))
    if request.method == "GET":
        return c.render(request, "login.html", None, next=target, error="")
    data = await request.form()
    name, password = str(data.get("username", "")), str(data.get("password", ""))
    address = client_address(request)
    try:
        uid, version = await run_in_threadpool(authenticate, c.store, name, password, address, c.now())
    except LoginRefused as exc:
        log.warning("console: login refused for %r from %s", name[:100], address)
        return c.render(request, "login.html", None, 401, next=target, error=str(exc))
    request.session.clear()
    request.session.update({"uid": uid, "v": version, "at": c.now().timestamp(), "csrf": secrets.token_urlsafe(32)})
    log.info("console: %r signed in from %s", name[:100], address)
    return RedirectResponse(target, status_code=303)


@page()
async def logout(request: Request, user: User, form: dict[str, str]) -> Response:
    """Signed out: this session ends, and so does every other of the same user (a cookie copied
    elsewhere stops working too)."""
    await run_in_threadpool(end_sessions, console(request).store, user.id)
    request.session.clear()
    return RedirectResponse("/login", status_code=303)
