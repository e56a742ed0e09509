"""The office console: server-rendered pages over the same functions the CLI uses.

Every route but the login page needs a session; every change is a POSTed HTML form carrying the
session's CSRF token; every response carries a Content-Security-Policy that lets no script, style
or image load from anywhere but this server (and the pages use no script at all). Text from mail
is only ever escaped into the page, never rendered as HTML.
"""

from __future__ import annotations

import hmac
import logging
import os
import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from intake.core.errors import ActionError, LoginRefused
from intake.core.settings import Settings
from intake.core.vocabulary import labels
from intake.office import actions
from intake.outbox import letters as outbox
from intake.web import pages as browse
from intake.web import previews
from store.repo import Store, User

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; font-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
Endpoint = Callable[[Request], Awaitable[Response]]


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


def secret_key(path: Path) -> str:
    """The key that signs session cookies: made once, private to the service's user."""
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(key)
    return key


def create_app(settings: Settings, store: Store | None = None) -> Starlette:
    store = store or Store(settings.database.url, settings.archive.path)
    env = Environment(
        loader=FileSystemLoader(str(HERE / "templates")),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = lambda dt: dt.strftime("%Y-%m-%d %H:%M") if dt else ""
    env.globals["labels"] = labels

    def render(request: Request, name: str, user: User | None, status: int = 200, **context: Any) -> HTMLResponse:
        html = env.get_template(name).render(
            request=request,
            user=user,
            csrf=request.session.get("csrf", ""),
            can_change=user is not None and user.role in actions.CAN_CHANGE,
            campaign=settings.campaign,
            **context,
        )
        return HTMLResponse(html, status_code=status)

    def now() -> datetime:
        return datetime.now(UTC)

    async def current_user(request: Request) -> User | None:
        uid = request.session.get("uid")
        if not isinstance(uid, int):
            return None
        issued = request.session.get("at", 0)
        if not isinstance(issued, int | float) or now().timestamp() - issued > settings.web.session_hours * 3600:
            request.session.clear()
            return None

        def load() -> User | None:
            with store.session() as repo:
                user = repo.user_by_id(uid)
                return user if user is not None and user.active else None

        return await run_in_threadpool(load)

    def page(roles: tuple[str, ...] = actions.ROLES) -> Callable[[Callable[..., Awaitable[Response]]], Endpoint]:
        """A route that needs a signed-in user of one of ``roles``; a POST also needs the CSRF token."""

        def wrap(fn: Callable[..., Awaitable[Response]]) -> Endpoint:
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
                    token = request.session.get("csrf", "")
                    if not token or not hmac.compare_digest(str(form.get("csrf", "")), str(token)):
                        return PlainTextResponse("表单已失效，请返回刷新页面后重试", status_code=403)
                if user.role not in roles:
                    return render(request, "error.html", user, 403, message="没有权限进行此操作")
                return await fn(request, user, form)

            endpoint.__name__ = fn.__name__
            return endpoint

        return wrap

    def not_found(request: Request, user: User, what: str) -> HTMLResponse:
        return render(request, "error.html", user, 404, message=f"没有找到{what}")

    # ------------------------------------------------------------------ login

    async def login(request: Request) -> Response:
        # The form carries the session's token like every other, but signing in is not refused
        # without it: it changes no data, and scripts sign in by posting username and password.
        # The session is made anew on success, so no cookie set before it survives.
        if "csrf" not in request.session:
            request.session["csrf"] = secrets.token_urlsafe(32)
        target = request.query_params.get("next", "/")
        if not target.startswith("/") or target.startswith("//"):
            target = "/"
        if request.method == "GET":
            return render(request, "login.html", None, next=target, error="")
        data = await request.form()
        name, password = str(data.get("username", "")), str(data.get("password", ""))
        address = request.client.host if request.client else ""
        try:
            uid = await run_in_threadpool(actions.authenticate, store, name, password, address, now())
        except LoginRefused as exc:
            log.warning("console: login refused for %r from %s", name[:100], address)
            return render(request, "login.html", None, 401, next=target, error=str(exc))
        request.session.clear()
        request.session.update({"uid": uid, "at": now().timestamp(), "csrf": secrets.token_urlsafe(32)})
        log.info("console: %r signed in from %s", name[:100], address)
        return RedirectResponse(target, status_code=303)

    @page()
    async def logout(request: Request, user: User, form: dict[str, str]) -> Response:
        request.session.clear()
        return RedirectResponse("/login", status_code=303)

    # ------------------------------------------------------------------ pages

    def read(fn: Callable[..., Any], *args: Any) -> Awaitable[Any]:
        def run() -> Any:
            with store.session() as repo:
                return fn(repo, *args)

        return run_in_threadpool(run)

    @page()
    async def board(request: Request, user: User, form: dict[str, str]) -> Response:
        data = await read(browse.board, settings, now())
        return render(request, "board.html", user, **data)

    @page()
    async def province(request: Request, user: User, form: dict[str, str]) -> Response:
        data = await read(browse.province_page, settings, request.path_params["code"])
        if data is None:
            return not_found(request, user, "这个省份")
        return render(request, "province.html", user, **data)

    @page()
    async def message(request: Request, user: User, form: dict[str, str]) -> Response:
        def load(repo: Any) -> Any:
            return browse.message_page(repo, store, settings, request.path_params["id"])

        data = await read(load)
        if data is None:
            return not_found(request, user, "这封邮件")
        return render(request, "message.html", user, provinces=settings.provinces, **data)

    @page()
    async def attachment(request: Request, user: User, form: dict[str, str]) -> Response:
        def load(repo: Any) -> tuple[str, bytes] | None:
            a = repo.attachment(request.path_params["att"])
            if a is None or a.message_pk != request.path_params["id"]:
                return None
            return a.filename, store.blobs.get(a.sha256)

        found = await read(load)
        if found is None:
            return not_found(request, user, "这个附件")
        filename, payload = found
        return Response(
            payload,
            media_type="application/octet-stream",
            headers={
                "Content-Disposition": f"attachment; filename=\"file\"; filename*=UTF-8''{quote(_safe(filename))}",
                "Content-Security-Policy": "default-src 'none'; sandbox",
            },
        )

    def nominee_filter(request: Request) -> browse.NomineeFilter:
        q = request.query_params
        return browse.NomineeFilter(
            province=q.get("province", ""),
            kind=q.get("kind", ""),
            state=q.get("state", ""),
            flag=q.get("flag", ""),
            source=q.get("source", ""),
            q=q.get("q", "")[:100],
            sort=q.get("sort", "province"),
        )

    @page()
    async def nominees(request: Request, user: User, form: dict[str, str]) -> Response:
        f = nominee_filter(request)
        rows = await read(browse.nominees_list, settings, f)
        return render(
            request,
            "nominees.html",
            user,
            rows=rows,
            f=f,
            provinces=settings.provinces,
            flag_codes=[(c, labels("flag", c)) for c in sorted({c for r in rows for c in r["flag_codes"]})],
            review_states=list(actions.REVIEW_STATES.items()),
            query=urlencode({k: v for k, v in vars(f).items() if v}),
        )

    @page()
    async def nominees_xlsx(request: Request, user: User, form: dict[str, str]) -> Response:
        rows = await read(browse.nominees_list, settings, nominee_filter(request))
        day = now().astimezone(settings.campaign.tz).date()
        payload = await run_in_threadpool(browse.nominees_workbook, rows, day)
        name = f"推荐对象{day.isoformat()}.xlsx"
        return Response(
            payload,
            media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            headers={"Content-Disposition": f"attachment; filename=\"nominees.xlsx\"; filename*=UTF-8''{quote(name)}"},
        )

    def preview_pdf(message_pk: int, att_id: int) -> Path | None:
        """The attachment as a PDF for its pictures (LibreOffice, cached), or None."""
        with store.session() as repo:
            a = repo.attachment(att_id)
            if a is None or a.message_pk != message_pk:
                return None
            sha, kind = a.sha256, a.type
        return previews.pdf_for(
            settings.archive.path, sha, kind, store.blobs.get(sha), settings.limits.convert_timeout_seconds
        )

    @page()
    async def nominee(request: Request, user: User, form: dict[str, str]) -> Response:
        data = await read(browse.nominee_page, settings, request.path_params["id"])
        if data is None:
            return not_found(request, user, "这个推荐对象")
        pages: list[str] = []
        if data["files"] and settings.web.preview_pages:
            first = data["files"][0]
            pdf = await run_in_threadpool(preview_pdf, data["nominee"]["message_id"], first["id"])
            count = min(previews.page_count(pdf), settings.web.preview_pages) if pdf else 0
            base = f"/messages/{data['nominee']['message_id']}/attachments/{first['id']}/pages"
            pages = [f"{base}/{i}" for i in range(1, count + 1)]
        return render(request, "nominee.html", user, preview=pages, **data)

    @page()
    async def preview_page(request: Request, user: User, form: dict[str, str]) -> Response:
        number = request.path_params["page"]
        pdf = await run_in_threadpool(preview_pdf, request.path_params["id"], request.path_params["att"])
        png = await run_in_threadpool(previews.page_png, pdf, number) if pdf and number >= 1 else None
        if png is None:
            return not_found(request, user, "这一页")
        return Response(png, media_type="image/png")

    @page()
    async def document(request: Request, user: User, form: dict[str, str]) -> Response:
        from intake.reports import documents

        name = request.path_params["name"]
        if name not in documents.NAMES:
            return not_found(request, user, "这个文件")
        docs = await read(documents.build, settings, now())
        kind = "spreadsheetml.sheet" if name.endswith(".xlsx") else "wordprocessingml.document"
        return Response(
            docs[name],
            media_type=f"application/vnd.openxmlformats-officedocument.{kind}",
            headers={"Content-Disposition": f"attachment; filename=\"document\"; filename*=UTF-8''{quote(name)}"},
        )

    @page()
    async def outbox_page(request: Request, user: User, form: dict[str, str]) -> Response:
        data = await read(browse.outbox_page, settings)
        return render(request, "outbox.html", user, **data)

    @page(actions.CAN_CHANGE)
    async def outbox_decide(request: Request, user: User, form: dict[str, str]) -> Response:
        return await act(
            request,
            user,
            "/outbox",
            lambda: outbox.decide(
                store,
                request.path_params["id"],
                form.get("decision", ""),
                by=user,
                subject=form.get("subject", ""),
                body=form.get("body", ""),
            ),
        )

    @page(actions.CAN_CHANGE)
    async def return_message(request: Request, user: User, form: dict[str, str]) -> Response:
        pk = request.path_params["id"]
        chosen = [v for k, v in form.items() if k.startswith("problem-")]
        return await act(
            request,
            user,
            "/outbox",
            lambda: outbox.queue_return(store, settings, pk, reason=form.get("reason", ""), by=user, problems=chosen),
        )

    @page()
    async def audit(request: Request, user: User, form: dict[str, str]) -> Response:
        data = await read(browse.audit_page, settings)
        return render(request, "audit.html", user, **data)

    # ------------------------------------------------------------------ changes

    async def act(request: Request, user: User, back: str, fn: Callable[[], Any]) -> Response:
        """Run an action; back where the person came from, or a page of what they should read
        first (warnings, what changed) when the action returns lines of it."""
        try:
            notes = await run_in_threadpool(fn)
        except ActionError as exc:
            return render(request, "error.html", user, 400, message=str(exc), back=back)
        if isinstance(notes, list) and notes:
            return render(request, "done.html", user, notes=notes, back=back)
        return RedirectResponse(back, status_code=303)

    @page(actions.CAN_CHANGE)
    async def correct(request: Request, user: User, form: dict[str, str]) -> Response:
        pk = request.path_params["id"]
        field, value = form.get("field", ""), form.get("value", "")

        def run() -> None:  # the nominee's page shows the change: no page of notes between
            actions.correct_nominee(
                store, settings, pk, {field: value}, by=user, reason=form.get("reason", ""), now=now()
            )

        return await act(request, user, f"/nominees/{pk}", run)

    @page(actions.CAN_CHANGE)
    async def review(request: Request, user: User, form: dict[str, str]) -> Response:
        pk = request.path_params["id"]
        return await act(
            request,
            user,
            f"/nominees/{pk}",
            lambda: actions.review_nominee(
                store, settings, pk, form.get("state", ""), by=user, reason=form.get("reason", ""), now=now()
            ),
        )

    @page(actions.CAN_CHANGE)
    async def review_province(request: Request, user: User, form: dict[str, str]) -> Response:
        code = request.path_params["code"]
        return await act(
            request,
            user,
            f"/provinces/{code}",
            lambda: actions.review_province(store, settings, code, by=user, reason=form.get("reason", ""), now=now()),
        )

    @page(actions.CAN_CHANGE)
    async def assign(request: Request, user: User, form: dict[str, str]) -> Response:
        pk = request.path_params["id"]
        return await act(
            request,
            user,
            f"/messages/{pk}",
            lambda: actions.assign_province(
                store, settings, pk, form.get("province", ""), by=user, reason=form.get("reason", ""), now=now()
            ),
        )

    @page(actions.CAN_CHANGE)
    async def reclassify(request: Request, user: User, form: dict[str, str]) -> Response:
        pk = request.path_params["id"]
        return await act(
            request,
            user,
            f"/messages/{pk}",
            lambda: actions.reclassify(
                store,
                settings,
                pk,
                form.get("classification", ""),
                by=user,
                reason=form.get("reason", ""),
                now=now(),
            ),
        )

    @page(actions.CAN_CHANGE)
    async def confirm(request: Request, user: User, form: dict[str, str]) -> Response:
        back = form.get("back", "/")
        if not back.startswith("/") or back.startswith("//"):
            back = "/"
        return await act(
            request,
            user,
            back,
            lambda: actions.confirm_flag(store, request.path_params["id"], by=user, note=form.get("note", "")),
        )

    @page(actions.CAN_CHANGE)
    async def acknowledge(request: Request, user: User, form: dict[str, str]) -> Response:
        kind, pk = request.path_params["kind"], request.path_params["id"]
        note = form.get("note", "")
        return await act(
            request, user, "/outbox", lambda: actions.acknowledge_failure(store, kind, pk, by=user, note=note)
        )

    routes = [
        Route("/login", login, methods=["GET", "POST"], name="login"),
        Route("/logout", logout, methods=["POST"]),
        Route("/", board),
        Route("/provinces/{code:str}", province),
        Route("/messages/{id:int}", message),
        Route("/messages/{id:int}/attachments/{att:int}", attachment),
        Route("/messages/{id:int}/attachments/{att:int}/pages/{page:int}", preview_page),
        Route("/messages/{id:int}/province", assign, methods=["POST"]),
        Route("/messages/{id:int}/classification", reclassify, methods=["POST"]),
        Route("/nominees", nominees),
        Route("/nominees.xlsx", nominees_xlsx),
        Route("/nominees/{id:int}", nominee),
        Route("/nominees/{id:int}/corrections", correct, methods=["POST"]),
        Route("/nominees/{id:int}/review", review, methods=["POST"]),
        Route("/provinces/{code:str}/review", review_province, methods=["POST"]),
        Route("/flags/{id:int}/check", confirm, methods=["POST"]),
        Route("/audit", audit),
        Route("/outbox", outbox_page),
        Route("/outbox/{id:int}", outbox_decide, methods=["POST"]),
        Route("/failures/{kind:str}/{id:int}", acknowledge, methods=["POST"]),
        Route("/messages/{id:int}/return", return_message, methods=["POST"]),
        Route("/documents/{name:str}", document),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    middleware = [
        Middleware(SecurityHeaders),
        Middleware(
            SessionMiddleware,
            secret_key=secret_key(settings.web.secret_file),
            session_cookie="intake_session",
            max_age=int(timedelta(hours=settings.web.session_hours).total_seconds()),
            same_site="lax",
            https_only=settings.web.https,
        ),
    ]
    return Starlette(routes=routes, middleware=middleware)


def _safe(filename: str) -> str:
    """A download's name: the file's own name with anything that could split a header removed."""
    name = "".join(ch for ch in filename.rsplit("/", 1)[-1] if ch.isprintable() and ch not in '"\\')
    return name or "附件"
