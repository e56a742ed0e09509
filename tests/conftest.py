from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import tomlkit

from intake.core.settings import Settings, load_settings
from tests.servers import Dovecot, create_pg_database, drop_pg_database, start_dovecot, start_smtp


def _find_corpus() -> Path:
    """The peers' corpus in ``shared/`` beside the checkout (read there, never copied in)."""
    env = os.environ.get("INTAKE_CORPUS")
    if env:
        return Path(env)
    here = Path(__file__).resolve().parent
    for parent in here.parents:
        candidate = parent / "shared" / "corpus" / "peers"
        if candidate.is_dir():
            return candidate
    return here.parent.parent / "shared" / "corpus" / "peers"


CORPUS = _find_corpus()
ROOT = Path(__file__).resolve().parent.parent


def require_corpus() -> list[Path]:
    """The corpus messages; a test without them skips locally and fails in CI, like a missing server."""
    from tests.servers import require

    files = sorted(CORPUS.glob("*/*.eml"))
    require(len(files) >= 100, f"the peers' corpus is not at {CORPUS} (INTAKE_CORPUS names another place)")
    return files


def cli_env(**extra: str) -> dict[str, str]:
    """The environment for running ``intake`` from this checkout in a subprocess."""
    return {**os.environ, "PYTHONPATH": str(ROOT), **extra}


def run_intake(
    *args: str,
    config: Path | str | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 300,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """``intake ARGS --config CONFIG`` as a real process, its output captured as text."""
    cmd = [sys.executable, "-m", "intake.cli", *args]
    if config is not None:
        cmd += ["--config", str(config)]
    return subprocess.run(cmd, env=env or cli_env(), capture_output=True, text=True, timeout=timeout, cwd=cwd)


def write_config(path: Path, sections: dict[str, Any]) -> Path:
    """A configuration file from ``sections`` (tomlkit writes it, escaping what TOML must)."""
    doc = tomlkit.document()
    for name, body in sections.items():
        if name == "provinces":
            provinces = tomlkit.aot()
            for p in body:
                provinces.append(tomlkit.item({k: list(v) if isinstance(v, tuple) else v for k, v in p.items()}))
            doc.add("provinces", provinces)
        else:
            doc.add(name, {k: list(v) if isinstance(v, tuple) else v for k, v in body.items()})
    path.write_text(tomlkit.dumps(doc), encoding="utf-8")
    tomllib.loads(path.read_text(encoding="utf-8"))
    return path


def deliver(inbox: Path, messages: dict[str, bytes]) -> Path:
    """Messages dropped into a Maildir's ``new`` (the folder made when missing), as a server would."""
    for sub in ("new", "cur", "tmp"):
        (inbox / sub).mkdir(parents=True, exist_ok=True)
    for name, raw in messages.items():
        (inbox / "new" / name).write_bytes(raw)
    return inbox


def embedded_config(tmp_path: Path, **sections: Any) -> Path:
    """A deployment with no server at all (SQLite, a Maildir inbox, receipts as .eml files in an
    outbox folder) under ``tmp_path``, with ``sections`` laid over it."""
    base: dict[str, Any] = {
        "database": {"url": f"sqlite:///{tmp_path / 'intake.db'}"},
        "archive": {"path": str(tmp_path / "archive")},
        "mailbox": {"source": "maildir", "maildir": str(tmp_path / "inbox")},
        "smtp": {"outbox": str(tmp_path / "outbox")},
    }
    for name, body in sections.items():
        base[name] = {**base[name], **body} if isinstance(body, dict) and name in base else body
    return write_config(tmp_path / "intake.toml", base)


@pytest.fixture
def make_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("INTAKE_TEST_IMAP_PASSWORD", "authcode-123")

    def make(**sections: Any) -> Settings:
        base: dict[str, Any] = {
            "database": {"url": f"sqlite:///{tmp_path / 'intake.db'}"},
            "archive": {"path": str(tmp_path / "archive")},
            "mailbox": {"source": "maildir", "maildir": str(tmp_path / "inbox")},
            "smtp": {"outbox": str(tmp_path / "outbox")},
        }
        for k, v in sections.items():
            base[k] = v
        cfg = write_config(tmp_path / f"intake-{len(os.listdir(tmp_path))}.toml", base)
        return load_settings(cfg)

    return make


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    d = start_dovecot()
    try:
        yield d
    finally:
        d.stop()


@pytest.fixture
def smtp():  # type: ignore[no-untyped-def]
    controller, handler, port = start_smtp()
    try:
        yield handler, port
    finally:
        controller.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    url = create_pg_database()
    try:
        yield url
    finally:
        drop_pg_database(url)


def read_as_pipeline(filename: str, content_type: str, payload: bytes, limits: Any = None, **kw: Any) -> Any:
    """``parsers.documents.read_attachment`` handed the application's LibreOffice converter, as the
    parse workers hand it (legacy files are converted, within the limits' timeout)."""
    from intake.ingest.convert import converter
    from parsers.documents import ReadLimits, read_attachment

    limits = limits or ReadLimits()
    kw.setdefault("convert", converter(limits.convert_timeout, None))
    return read_attachment(filename, content_type, payload, limits, **kw)


def one_message_dossiers(readings: list[Any]) -> dict[str, Any]:
    """The nominees one message's files make, as the campaign assembles them (the message alone):
    name → (what the dossier stands as, the problems its list and forms raise)."""
    from datetime import UTC, datetime

    from intake.campaign.derive import derive, list_problems, replacements
    from intake.campaign.dossiers import MatFact, MessageFact, assemble
    from intake.ingest.materials import materials_of

    facts = [
        MatFact(
            id=i,
            message=1,
            position=i,
            kind=d.kind,
            person_kind=d.person_kind,
            name=d.name,
            key=d.key,
            birth=d.birth,
            rank=d.rank,
            source=d.source,
            fields=d.fields,
            info=d.info,
            words=d.words,
            chars_nospace=d.chars_nospace,
        )
        for i, d in enumerate(materials_of(readings))
    ]
    a = assemble([MessageFact(1, "zj", datetime(2017, 4, 20, tzinfo=UTC), "", False)], facts)
    replaced = replacements(a)
    return {(got := derive(a, d, {}, replaced)).name: (got, list_problems(a, d)) for d in a.dossiers}
