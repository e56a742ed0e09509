"""What every page of the console is given: the settings, the store, the one template
environment, and a way to read the store off the event loop."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse

from intake.core.settings import Settings
from intake.core.templates import environment
from intake.core.vocabulary import CAN_CHANGE, labels
from store.repo import Store, User

TEMPLATES = Path(__file__).resolve().parent / "templates"


@dataclass
class Console:
    settings: Settings
    store: Store

    def render(self, request: Request, name: str, user: User | None, status: int = 200, **context: Any) -> HTMLResponse:
        env = environment((str(TEMPLATES),), self.settings.campaign.tz)
        html = env.get_template(name).render(
            request=request,
            user=user,
            csrf=request.session.get("csrf", ""),
            can_change=user is not None and user.role in CAN_CHANGE,
            is_admin=user is not None and user.role == "admin",
            campaign=self.settings.campaign,
            labels=labels,
            **context,
        )
        return HTMLResponse(html, status_code=status)

    async def read(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(repo, *args)`` in a session of its own, off the event loop."""

        def run() -> Any:
            with self.store.session() as repo:
                return fn(repo, *args)

        return await run_in_threadpool(run)

    def now(self) -> datetime:
        return datetime.now(UTC)


def console(request: Request) -> Console:
    return request.app.state.console  # type: ignore[no-any-return]
