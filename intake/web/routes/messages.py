"""A message, its files (downloaded under their own names, pictures of their pages), and a
reviewer's decisions about it: its province, its classification, a 退回修改."""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from intake.core.vocabulary import CAN_CHANGE
from intake.office.letters import queue_return
from intake.office.messages import assign_province, reclassify
from intake.web import previews
from intake.web.auth import act, not_found, page
from intake.web.console import console
from intake.web.pages.message import message_page
from store.repo import Repo, User


@page()
async def message(request: Request, user: User, form: dict[str, str]) -> Response:
    c = console(request)
    data = await c.read(message_page, c.settings, request.path_params["id"])
    if data is None:
        return not_found(request, user, "这封邮件")
    return c.render(request, "message.html", user, provinces=c.settings.provinces, **data)


@page()
async def attachment(request: Request, user: User, form: dict[str, str]) -> Response:
    c = console(request)

    def load(repo: Repo) -> tuple[str, bytes] | None:
        a = repo.attachment(request.path_params["att"])
        if a is None or a.message_pk != request.path_params["id"]:
            return None
        return a.filename, c.store.blobs.get(a.sha256)

    found = await c.read(load)
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


@page()
async def preview_page(request: Request, user: User, form: dict[str, str]) -> Response:
    c = console(request)
    png = await previews.page_png_of(
        c, request.path_params["id"], request.path_params["att"], request.path_params["page"]
    )
    if png is None:
        return not_found(request, user, "这一页")
    return Response(png, media_type="image/png")


@page(CAN_CHANGE)
async def assign(request: Request, user: User, form: dict[str, str]) -> Response:
    c = console(request)
    pk = request.path_params["id"]
    return await act(
        request,
        user,
        f"/messages/{pk}",
        lambda: assign_province(
            c.store, c.settings, pk, form.get("province", ""), by=user, reason=form.get("reason", ""), now=c.now()
        ),
    )


@page(CAN_CHANGE)
async def classification(request: Request, user: User, form: dict[str, str]) -> Response:
    c = console(request)
    pk = request.path_params["id"]
    return await act(
        request,
        user,
        f"/messages/{pk}",
        lambda: reclassify(
            c.store, c.settings, pk, form.get("classification", ""), by=user, reason=form.get("reason", ""), now=c.now()
        ),
    )


@page(CAN_CHANGE)
async def return_message(request: Request, user: User, form: dict[str, str]) -> Response:
    c = console(request)
    pk = request.path_params["id"]
    chosen = [v for k, v in form.items() if k.startswith("problem-")]
    return await act(
        request,
        user,
        "/outbox",
        lambda: queue_return(c.store, c.settings, pk, reason=form.get("reason", ""), by=user, problems=chosen),
    )


def _safe(filename: str) -> str:
    """A download's name: the file's own name with anything that could split a header removed."""
    name = "".join(ch for ch in filename.rsplit("/", 1)[-1] if ch.isprintable() and ch not in '"\\')
    return name or "附件"


routes = [
    Route("/messages/{id:int}", message),
    Route("/messages/{id:int}/attachments/{att:int}", attachment),
    Route("/messages/{id:int}/attachments/{att:int}/pages/{page:int}", preview_page),
    Route("/messages/{id:int}/province", assign, methods=["POST"]),
    Route("/messages/{id:int}/classification", classification, methods=["POST"]),
    Route("/messages/{id:int}/return", return_message, methods=["POST"]),
]
