"""The office console: server-rendered pages over the same functions the command line uses.

Every route but the login page needs a session; every change is a POSTed HTML form carrying the
session's CSRF token; every response carries a Content-Security-Policy that lets no script, style
or image load from anywhere but this server (and the pages use no script at all). Text from mail
is only ever escaped into the page, never rendered as HTML. Each page is a small view in
``routes/`` over one function of ``pages/``; who may do what is decided in ``auth``.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from intake.core.secret import secret_key
from intake.core.settings import Settings
from intake.web import auth
from intake.web.console import Console
from intake.web.routes import audit, board, messages, nominees, outbox, provinces, remind, users
from store.repo import Store

STATIC = Path(__file__).resolve().parent / "static"


def create_app(settings: Settings, store: Store | None = None) -> Starlette:
    store = store or Store(settings.database.url, settings.archive.path)
    routes: list[BaseRoute] = [
        Route("/login", auth.login, methods=["GET", "POST"], name="login"),
        Route("/logout", auth.logout, methods=["POST"]),
        *board.routes,
        *provinces.routes,
        *messages.routes,
        *nominees.routes,
        *outbox.routes,
        *remind.routes,
        *audit.routes,
        *users.routes,
        Mount("/static", StaticFiles(directory=str(STATIC)), name="static"),
    ]
    middleware = [
        Middleware(auth.SecurityHeaders),
        Middleware(
            SessionMiddleware,
            secret_key=secret_key(settings.web.secret_file),
            session_cookie="intake_session",
            max_age=int(timedelta(hours=settings.web.session_hours).total_seconds()),
            same_site="lax",
            https_only=settings.web.https,
        ),
    ]
    app = Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers={404: auth.no_such_page, 405: auth.no_such_page, 500: auth.server_error},
    )
    app.state.console = Console(settings, store)
    return app
