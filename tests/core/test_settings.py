"""intake/core/settings.py: defaults, validation, secrets."""

from __future__ import annotations

import io
from pathlib import Path

import openpyxl
import pytest

from intake.core.errors import ConfigError
from intake.core.settings import load_settings
from tests.conftest import write_config


def test_embedded_defaults_have_31_provinces_and_the_notice_totals(tmp_path: Path) -> None:
    s = load_settings(write_config(tmp_path / "c.toml", {"database": {"url": "sqlite:///x.db"}}), cwd=tmp_path)
    assert len(s.provinces) == 31
    assert (s.quota_individuals, s.quota_units) == (200, 60)
    assert sum(p.individuals for p in s.provinces) == 200 and sum(p.units for p in s.provinces) == 60
    assert s.database.url == f"sqlite:///{tmp_path / 'x.db'}"
    assert s.campaign.deadline.isoformat() == "2017-04-30T23:59:59+08:00"
    assert s.mailbox.source == "maildir" and s.smtp.outbox is not None


def test_a_file_naming_a_server_means_that_server(tmp_path: Path) -> None:
    cfg = write_config(
        tmp_path / "c.toml",
        {
            "mailbox": {"host": "127.0.0.1", "port": 1143, "security": "none", "username": "u"},
            "smtp": {"host": "127.0.0.1", "port": 1025, "security": "none"},
        },
    )
    s = load_settings(cfg)
    assert s.mailbox.source == "imap" and s.smtp.outbox is None


def test_provinces_given_replace_defaults_by_code_or_name(tmp_path: Path) -> None:
    cfg = write_config(
        tmp_path / "c.toml",
        {
            "provinces": [
                {"code": "bj", "name": "北京市", "individuals": 9, "units": 1, "senders": ["a@bj.cn"]},
                {"code": "shanghai", "name": "上海市", "individuals": 2, "units": 2, "senders": ["@sh.gov.cn"]},
            ]
        },
    )
    s = load_settings(cfg)
    assert len(s.provinces) == 31
    assert s.province("bj").individuals == 9  # type: ignore[union-attr]
    assert s.province("shanghai").senders == ("@sh.gov.cn",)  # type: ignore[union-attr]
    assert s.province("sh") is None


@pytest.mark.parametrize(
    ("sections", "expected"),
    [
        ({"mailbox": {"colour": "blue"}}, "mailbox.colour: unknown key"),
        ({"campaign": {"deadline": "the end of April"}}, "campaign.deadline"),
        ({"campaign": {"timezone": "Mars/Olympus"}}, "unknown time zone"),
        ({"mailbox": {"source": "imap", "host": "imap.126.com", "security": "none"}}, "only allowed for loopback"),
        ({"mailbox": {"password": "hunter2"}}, "secrets never sit in the file"),
        (
            {
                "provinces": [
                    {"code": "x1", "name": "甲省", "individuals": 1, "units": 1},
                    {"code": "x1", "name": "乙省", "individuals": 1, "units": 1},
                ]
            },
            "appears twice",
        ),
        ({"schedule": {"poll_minutes": 0}}, "schedule.poll_minutes"),
    ],
)
def test_bad_configuration_is_one_line(tmp_path: Path, sections: dict, expected: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ConfigError) as info:
        load_settings(write_config(tmp_path / "c.toml", sections))
    text = str(info.value)
    assert expected in text and "\n" not in text
    assert "hunter2" not in text


def test_missing_file_and_bad_toml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[mailbox\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(bad)


def test_secret_from_environment_never_in_repr(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_PW", "s3cret-code")
    s = load_settings(write_config(tmp_path / "c.toml", {"mailbox": {"password_env": "MY_PW"}}))
    assert s.mailbox.password is not None and s.mailbox.password.get_secret_value() == "s3cret-code"
    assert "s3cret-code" not in repr(s) and "s3cret-code" not in str(s.model_dump())


def test_quota_table_from_an_allocation_workbook(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["在推进非公党建工作中表现突出单位、个人推荐名额分配表"])
    ws.merge_cells("A1:C1")
    ws.append(["省份", "个人名额", "单位名额"])
    ws.append(["北京", 8, 3])
    ws.append(["新疆维吾尔自治区", 1, 1])
    ws.append(["合计", 9, 4])
    buf = io.BytesIO()
    wb.save(buf)
    (tmp_path / "q.xlsx").write_bytes(buf.getvalue())
    s = load_settings(write_config(tmp_path / "c.toml", {"campaign": {"quota_table": str(tmp_path / "q.xlsx")}}))
    assert (s.province("bj").individuals, s.province("bj").units) == (8, 3)  # type: ignore[union-attr]
    assert s.province("xj").individuals == 1  # type: ignore[union-attr]
    ws.append(["北京市", 1, 1])
    buf = io.BytesIO()
    wb.save(buf)
    (tmp_path / "q.xlsx").write_bytes(buf.getvalue())
    with pytest.raises(ConfigError, match="appears twice"):
        load_settings(write_config(tmp_path / "c.toml", {"campaign": {"quota_table": str(tmp_path / "q.xlsx")}}))


def test_relative_paths_follow_the_configuration_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A service started from / finds its data beside its configuration, not in /var."""
    folder = tmp_path / "etc"
    folder.mkdir()
    (folder / "imap-code").write_text("authcode\n")
    cfg = write_config(
        folder / "intake.toml",
        {
            "database": {"url": "sqlite:///data/intake.db"},
            "archive": {"path": "data/archive"},
            "mailbox": {"password_file": "imap-code"},
        },
    )
    monkeypatch.chdir("/")
    s = load_settings(cfg)
    assert s.database.url == f"sqlite:///{folder / 'data' / 'intake.db'}"
    assert s.archive.path == folder / "data" / "archive"
    assert s.mailbox.password is not None and s.mailbox.password.get_secret_value() == "authcode"


def test_a_province_override_changes_only_what_it_names_and_can_drop(tmp_path: Path) -> None:
    cfg = write_config(
        tmp_path / "c.toml",
        {
            "provinces": [
                {"code": "bj", "senders": ["dangjian@bjaic.gov.cn"]},
                {"code": "xz", "drop": True},
            ]
        },
    )
    s = load_settings(cfg, cwd=tmp_path)
    bj = s.province("bj")
    assert bj is not None and bj.senders == ("dangjian@bjaic.gov.cn",) and (bj.individuals, bj.units) == (6, 2)
    assert s.province("xz") is None and len(s.provinces) == 30
