"""催报 from the console: choose the provinces (every one that owes something is chosen at first),
read each letter as it would go, and send them all at once in the name of the person who did."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from intake.core.vocabulary import CAN_CHANGE
from intake.outbox.reminders import queue_reminders
from intake.web.auth import act, page
from intake.web.console import console
from intake.web.pages.remind import remind_page, remind_preview
from store.repo import User


@page(CAN_CHANGE)
async def remind(request: Request, user: User, form: dict[str, str]) -> Response:
    c = console(request)
    data = await c.read(remind_page, c.settings)
    return c.render(request, "remind.html", user, **data)


async def _chosen(request: Request) -> list[str]:
    data = await request.form()
    known = {p.code for p in console(request).settings.provinces}
    return [v for v in data.getlist("province") if isinstance(v, str) and v in known]


@page(CAN_CHANGE)
async def preview(request: Request, user: User, form: dict[str, str]) -> Response:
    c = console(request)
    chosen = await _chosen(request)
    if not chosen:
        return c.render(request, "error.html", user, 400, message="请至少选择一个省份", back="/remind")
    data = await c.read(remind_preview, c.settings, c.now(), chosen)
    return c.render(request, "remind_preview.html", user, **data)


@page(CAN_CHANGE)
async def send(request: Request, user: User, form: dict[str, str]) -> Response:
    c = console(request)
    chosen = await _chosen(request)
    if not chosen:
        return c.render(request, "error.html", user, 400, message="请至少选择一个省份", back="/remind")

    def queue() -> list[str]:
        plans = queue_reminders(c.store, c.settings, c.now(), by=user.name, provinces=chosen, manual=True)
        if not plans:
            return ["没有新的催报：所选省份今天已催报过，或已无待补的内容"]
        return [f"已发出催报：{p['province'].name}（{p['to']}）" for p in plans]

    return await act(request, user, "/outbox", queue)


routes = [
    Route("/remind", remind),
    Route("/remind/preview", preview, methods=["POST"]),
    Route("/remind/send", send, methods=["POST"]),
]
