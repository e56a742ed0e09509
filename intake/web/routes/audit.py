"""操作记录, and a problem marked as checked."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from intake.core.vocabulary import CAN_CHANGE
from intake.office.checks import confirm_flag
from intake.web.auth import act, local_target, page
from intake.web.console import console
from intake.web.pages.audit import audit_page
from store.repo import User


@page()
async def audit(request: Request, user: User, form: dict[str, str]) -> Response:
    c = console(request)
    data = await c.read(audit_page, c.settings)
    return c.render(request, "audit.html", user, **data)


@page(CAN_CHANGE)
async def check(request: Request, user: User, form: dict[str, str]) -> Response:
    c = console(request)
    back = local_target(form.get("back", "/"))
    return await act(
        request,
        user,
        back,
        lambda: confirm_flag(c.store, request.path_params["id"], by=user, note=form.get("note", "")),
    )


routes = [Route("/audit", audit), Route("/flags/{id:int}/check", check, methods=["POST"])]
