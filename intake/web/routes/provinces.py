"""A province, and a reviewer's acceptance of its nominees within the quota by rank."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from intake.core.vocabulary import CAN_CHANGE
from intake.office.nominees import review_province
from intake.web.auth import act, not_found, page
from intake.web.console import console
from intake.web.pages.province import province_page
from store.repo import User


@page()
async def province(request: Request, user: User, form: dict[str, str]) -> Response:
    c = console(request)
    data = await c.read(province_page, c.settings, request.path_params["code"])
    if data is None:
        return not_found(request, user, "这个省份")
    return c.render(request, "province.html", user, **data)


@page(CAN_CHANGE)
async def review(request: Request, user: User, form: dict[str, str]) -> Response:
    c = console(request)
    code = request.path_params["code"]
    return await act(
        request,
        user,
        f"/provinces/{code}",
        lambda: review_province(c.store, c.settings, code, by=user, reason=form.get("reason", ""), now=c.now()),
    )


routes = [
    Route("/provinces/{code:str}", province),
    Route("/provinces/{code:str}/review", review, methods=["POST"]),
]
