"""intake/cli: every command has help with an example; errors are one line."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from intake.cli import main
from tests.conftest import cli_env, run_intake

CONTRACT_COMMANDS = {"poll", "run", "ingest", "summary", "export", "reprocess"}


def test_contract_commands_exist() -> None:
    assert CONTRACT_COMMANDS <= set(main.commands)


@pytest.mark.parametrize("name", sorted(CONTRACT_COMMANDS))
def test_every_command_has_help_with_an_example(name: str) -> None:
    result = CliRunner().invoke(main, [name, "--help"])
    assert result.exit_code == 0
    assert "Example:" in result.output and "--config" in result.output


def test_bad_config_is_one_line_no_traceback(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text('[campaign]\ndeadline = "soon"\n')
    proc = run_intake("export", config=cfg, timeout=120)
    assert proc.returncode != 0
    assert proc.stderr.strip().count("\n") == 0 and "campaign.deadline" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_config_from_environment(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[mailbox]\nunknown_key = 1\n")
    proc = run_intake("export", env=cli_env(INTAKE_CONFIG=str(cfg)), timeout=120)
    assert proc.returncode != 0 and "mailbox.unknown_key: unknown key" in proc.stderr


def test_ingest_then_reprocess_sends_nothing_twice(tmp_path: Path) -> None:
    from intake.dev.demo import demo_messages
    from tests.conftest import write_config

    (tmp_path / "mail").mkdir()
    for i, raw in enumerate(demo_messages()):
        (tmp_path / "mail" / f"m{i}.eml").write_bytes(raw)
    cfg = write_config(
        tmp_path / "c.toml",
        {
            "database": {"url": f"sqlite:///{tmp_path / 'db.sqlite'}"},
            "archive": {"path": str(tmp_path / "archive")},
            "smtp": {"outbox": str(tmp_path / "outbox")},
        },
    )

    def intake(*args: str) -> subprocess.CompletedProcess[str]:
        return run_intake(*args, config=cfg)

    first = intake("ingest", *[str(p) for p in sorted((tmp_path / "mail").glob("m*.eml"))])
    assert first.returncode == 0, first.stderr
    assert "submission 5" in first.stdout and "receipts sent 5" in first.stdout
    export = intake("export", "--format", "json").stdout
    again = intake("ingest", str(tmp_path / "mail"))
    assert "new 0" in again.stdout and "receipts sent 0" in again.stdout
    redone = intake("reprocess")
    assert redone.returncode == 0 and "processed 6" in redone.stdout
    assert intake("export", "--format", "json").stdout == export
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 5


def test_on_a_terminal_a_bar_is_drawn_only_once_there_is_something_to_count(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An idle poll (nothing new, nothing waiting) draws no bars; a bar appears when work is known."""
    import io
    import types

    from intake.core import progress

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(progress, "sys", types.SimpleNamespace(stderr=Terminal()))
    with progress.bars(("fetching", 0), ("processing", 0)) as (fetching, processing):
        assert isinstance(fetching, progress._Rich) and isinstance(processing, progress._Rich)
        assert not fetching.shown and not processing.shown
        fetching.grow(3)
        assert fetching.shown and not processing.shown
        fetching.advance(3)
