"""发件箱, a reviewer's decision on a draft, a failed mail acknowledged."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from intake.core.vocabulary import CAN_CHANGE
from intake.office.checks import acknowledge_failure
from intake.office.letters import approve_all, decide
from intake.web.auth import act, page
from intake.web.console import console
from intake.web.pages.outbox import outbox_page
from store.repo import User


@page()
async def outbox(request: Request, user: User, form: dict[str, str]) -> Response:
    c = console(request)
    data = await c.read(outbox_page, c.settings)
    return c.render(request, "outbox.html", user, **data)


@page(CAN_CHANGE)
async def decision(request: Request, user: User, form: dict[str, str]) -> Response:
    c = console(request)
    pk = request.path_params["id"]
    return await act(
        request,
        user,
        "/outbox",
        lambda: decide(
            c.store, pk, form.get("decision", ""), by=user, subject=form.get("subject", ""), body=form.get("body", "")
        ),
    )


@page(CAN_CHANGE)
async def approve(request: Request, user: User, form: dict[str, str]) -> Response:
    """Every draft shown on the page, approved at once as it stands."""
    c = console(request)
    data = await request.form()
    ids = [int(v) for v in data.getlist("id") if isinstance(v, str) and v.isdigit()]
    return await act(request, user, "/outbox", lambda: approve_all(c.store, ids, by=user))


@page(CAN_CHANGE)
async def acknowledge(request: Request, user: User, form: dict[str, str]) -> Response:
    c = console(request)
    kind, pk = request.path_params["kind"], request.path_params["id"]
    note = form.get("note", "")
    return await act(request, user, "/outbox", lambda: acknowledge_failure(c.store, kind, pk, by=user, note=note))


routes = [
    Route("/outbox", outbox),
    Route("/outbox/approve", approve, methods=["POST"]),
    Route("/outbox/{id:int}", decision, methods=["POST"]),
    Route("/failures/{kind:str}/{id:int}", acknowledge, methods=["POST"]),
]
