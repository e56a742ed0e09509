"""The one Jinja environment: mail templates (receipts, reminders, returns, the summary, the
通报), which the office may override in its own folder, and the console's pages. Text from mail is
escaped wherever the output is HTML; a name a template uses but is not given is an error, never
an empty space in a letter."""

from __future__ import annotations

from datetime import date, datetime, tzinfo
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateNotFound, select_autoescape

from intake.core.errors import ConfigError
from intake.core.settings import DEFAULTS_DIR
from intake.core.time import cn_date, cn_datetime, local, shown


@lru_cache(maxsize=16)
def environment(folders: tuple[str, ...], tz: tzinfo) -> Environment:
    """The environment over ``folders`` (searched in order), rendering times in ``tz``."""
    env = Environment(
        loader=FileSystemLoader(list(folders)),
        autoescape=select_autoescape(enabled_extensions=("html", "html.j2"), default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = lambda dt: shown(dt, tz)
    env.filters["cn_date"] = lambda d: cn_date(d, tz) if isinstance(d, date | datetime) else ""
    env.filters["cn_datetime"] = lambda d: cn_datetime(d, tz) if isinstance(d, datetime) else ""
    env.filters["cn_month_day"] = lambda d: _month_day(d, tz) if isinstance(d, datetime) else ""
    return env


def _month_day(d: datetime, tz: tzinfo) -> str:
    moment = local(d, tz) or d
    return f"{moment.month}月{moment.day}日"


def template_folders(settings: Any, *more: Path) -> tuple[str, ...]:
    """Where templates are looked for: the office's folder first, then ``more``; a template the
    office has no copy of (one added by an upgrade) is the shipped one."""
    shipped = str(DEFAULTS_DIR / "templates")
    return tuple(dict.fromkeys((str(Path(settings.templates)), *(str(m) for m in more), shipped)))


def render_template(settings: Any, name: str, context: dict[str, Any], *more: Path) -> str:
    """``name`` from the configured templates (then ``more`` folders), with ``context`` (and the
    office's contact person, named in every mail to a province)."""
    context = {"contact": getattr(settings, "contact", None), **context}
    folders = template_folders(settings, *more)
    env = environment(folders, settings.campaign.tz)
    try:
        return env.get_template(name).render(**context)
    except TemplateNotFound as exc:
        raise ConfigError(f"template {name} not found in {folders[0]}") from exc
