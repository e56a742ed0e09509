"""总览, and the documents issued from the review states."""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from intake.reports import documents
from intake.web.auth import not_found, page
from intake.web.console import console
from intake.web.pages.board import board as board_data
from store.repo import User


@page()
async def board(request: Request, user: User, form: dict[str, str]) -> Response:
    c = console(request)
    data = await c.read(board_data, c.settings, c.now())
    return c.render(request, "board.html", user, **data)


@page()
async def document(request: Request, user: User, form: dict[str, str]) -> Response:
    c = console(request)
    name = request.path_params["name"]
    if name not in documents.NAMES:
        return not_found(request, user, "这个文件")
    docs = await c.read(documents.build, c.settings, c.now())
    kind = "spreadsheetml.sheet" if name.endswith(".xlsx") else "wordprocessingml.document"
    return Response(
        docs[name],
        media_type=f"application/vnd.openxmlformats-officedocument.{kind}",
        headers={"Content-Disposition": f"attachment; filename=\"document\"; filename*=UTF-8''{quote(name)}"},
    )


routes = [Route("/", board), Route("/documents/{name:str}", document)]
