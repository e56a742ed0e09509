"""推荐对象 (a list, as a page and a workbook), a nominee, and a reviewer's corrections and
reviews of it."""

from __future__ import annotations

from urllib.parse import quote, urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from intake.core.errors import ActionError
from intake.core.vocabulary import CAN_CHANGE, REVIEW_STATES, labels
from intake.office.checks import confirm_nominee
from intake.office.nominees import correct_nominee, move_material, review_nominee
from intake.web import previews
from intake.web.auth import act, local_target, not_found, page
from intake.web.console import console
from intake.web.pages.nominee import nominee_page
from intake.web.pages.nominees import NomineeFilter, nominees_list, nominees_workbook
from store.repo import Repo, User


def _filter(request: Request) -> NomineeFilter:
    q = request.query_params
    return NomineeFilter(
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
    c = console(request)
    f = _filter(request)
    rows = await c.read(nominees_list, c.settings, f)
    return c.render(
        request,
        "nominees.html",
        user,
        rows=rows,
        f=f,
        provinces=c.settings.provinces,
        flag_codes=[(code, labels("flag", code)) for code in sorted({x for r in rows for x in r["flag_codes"]})],
        review_states=list(REVIEW_STATES.items()),
        query=urlencode({k: v for k, v in vars(f).items() if v}),
    )


@page()
async def nominees_xlsx(request: Request, user: User, form: dict[str, str]) -> Response:
    c = console(request)
    f = _filter(request)
    rows = await c.read(nominees_list, c.settings, f)
    day = c.now().astimezone(c.settings.campaign.tz).date()
    payload = await run_in_threadpool(nominees_workbook, rows, day, f.describe(c.settings))
    name = f"推荐对象{day.isoformat()}.xlsx"
    return Response(
        payload,
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f"attachment; filename=\"nominees.xlsx\"; filename*=UTF-8''{quote(name)}"},
    )


@page()
async def nominee(request: Request, user: User, form: dict[str, str]) -> Response:
    c = console(request)
    data = await c.read(nominee_page, c.settings, request.path_params["id"])
    if data is None:
        return not_found(request, user, "这个推荐对象")
    pages: list[str] = []
    if data["files"] and c.settings.web.preview_pages:
        first = data["files"][0]
        pages = await previews.page_links(c, data["nominee"]["message_id"], first["id"])
    return c.render(request, "nominee.html", user, preview=pages, **data)


@page(CAN_CHANGE)
async def correct(request: Request, user: User, form: dict[str, str]) -> Response:
    c = console(request)
    pk = request.path_params["id"]
    field, value = form.get("field", ""), form.get("value", "")

    def run() -> None:  # the nominee's page shows the change: no page of notes between
        correct_nominee(c.store, c.settings, pk, {field: value}, by=user, reason=form.get("reason", ""), now=c.now())

    return await act(request, user, f"/nominees/{pk}", run)


@page(CAN_CHANGE)
async def review(request: Request, user: User, form: dict[str, str]) -> Response:
    c = console(request)
    pk = request.path_params["id"]
    return await act(
        request,
        user,
        f"/nominees/{pk}",
        lambda: review_nominee(
            c.store, c.settings, pk, form.get("state", ""), by=user, reason=form.get("reason", ""), now=c.now()
        ),
    )


@page(CAN_CHANGE)
async def move(request: Request, user: User, form: dict[str, str]) -> Response:
    """A material moved to the nominee it belongs to (from a nominee's page or a province's)."""
    c = console(request)
    back = local_target(form.get("back", "/"))

    def run() -> None:
        try:
            message, position, target = (
                int(form.get("message", "")),
                int(form.get("position", "")),
                int(form.get("to", "")),
            )
        except ValueError as exc:
            raise ActionError("请选择材料和要归入的推荐对象") from exc
        move_material(
            c.store, c.settings, message, position, target, by=user, reason=form.get("reason", ""), now=c.now()
        )

    return await act(request, user, back, run)


@page(CAN_CHANGE)
async def confirm(request: Request, user: User, form: dict[str, str]) -> Response:
    """A reviewer confirms fields read by text recognition or text that looks like a formula."""
    c = console(request)
    pk = request.path_params["id"]
    return await act(
        request, user, f"/nominees/{pk}", lambda: confirm_nominee(c.store, pk, by=user, reason=form.get("reason", ""))
    )


@page()
async def recognised_crop(request: Request, user: User, form: dict[str, str]) -> Response:
    """The picture of the cell a recognised field was read from (only those the nominee names)."""
    c = console(request)

    def load(repo: Repo) -> bytes | None:
        n = repo.nominee_or_alias(request.path_params["id"])
        seen = list(((n.info or {}).get("ocr") or {}).values()) if n is not None else []
        index = request.path_params["index"]
        sha = seen[index].get("crop") if 0 <= index < len(seen) else None
        return c.store.blobs.get(sha) if isinstance(sha, str) and sha else None

    png = await c.read(load)
    if png is None:
        return not_found(request, user, "这张图片")
    return Response(png, media_type="image/png", headers={"Content-Security-Policy": "default-src 'none'"})


routes = [
    Route("/materials/move", move, methods=["POST"]),
    Route("/nominees", nominees),
    Route("/nominees.xlsx", nominees_xlsx),
    Route("/nominees/{id:int}", nominee),
    Route("/nominees/{id:int}/corrections", correct, methods=["POST"]),
    Route("/nominees/{id:int}/review", review, methods=["POST"]),
    Route("/nominees/{id:int}/confirm", confirm, methods=["POST"]),
    Route("/nominees/{id:int}/ocr/{index:int}", recognised_crop),
]
