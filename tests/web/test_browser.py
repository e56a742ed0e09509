"""The console in a real browser: Debian's Chromium driven by Selenium against ``intake web`` on a
loopback port, over a database the pipeline filled. Screenshots of the main pages are saved (to
``INTAKE_SCREENSHOTS`` when set: the README's come from there)."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from intake.core.settings import load_settings
from intake.office import users
from store.repo import Store
from tests.conftest import cli_env, run_intake
from tests.servers import free_port, require
from tests.web.test_app import PASSWORD, deployment  # noqa: F401  (the fixture)

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[object]:
    require(
        Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists(),
        "Chromium and ChromeDriver are not installed (Debian packages chromium, chromium-driver)",
    )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1366,768",
        f"--user-data-dir={tmp_path / 'chromium'}",
        "--lang=zh-CN",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def console(deployment, tmp_path: Path) -> Iterator[tuple[str, Path]]:  # type: ignore[no-untyped-def]  # noqa: F811
    cfg, _settings, _store = deployment
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "intake.cli", "web", "--port", str(port), "--config", str(cfg)],
        env=cli_env(),
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        for _ in range(600):  # the console is up when it accepts a connection
            if proc.poll() is not None:
                pytest.fail(f"intake web exited: {proc.stderr.read().decode() if proc.stderr else ''}")
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}", cfg
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _shoot(driver, tmp_path: Path, name: str) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / f"console-{name}.png"
    driver.save_screenshot(str(path))
    assert path.stat().st_size > 5000
    target = os.environ.get("INTAKE_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(target) / path.name)


def _login(driver, base: str, name: str) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    driver.get(base + "/")
    _until(driver, lambda d: "/login" in d.current_url)
    driver.find_element(By.NAME, "username").send_keys(name)
    driver.find_element(By.NAME, "password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    _until(driver, lambda d: d.current_url.rstrip("/") == base)


def _until(driver, condition) -> None:  # type: ignore[no-untyped-def]
    """Wait for the page a click leads to (a click returns before the next page has loaded; an
    element read from the page being left goes stale under the reader, which is then read again)."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    ignored = (NoSuchElementException, StaleElementReferenceException)
    WebDriverWait(driver, 60, ignored_exceptions=ignored).until(condition)


def _h1(driver) -> str:  # type: ignore[no-untyped-def]
    """The page's heading, read by the browser itself: no element is held across a navigation
    (Chromium's driver may answer a node of the page being left with a generic error, not a
    stale element)."""
    return str(driver.execute_script("const h = document.querySelector('h1'); return h ? h.innerText : '';"))


def test_reviewer_and_viewer_in_chromium(browser, console, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    driver = browser
    base, cfg = console
    _login(driver, base, "reviewer")
    _shoot(driver, tmp_path, "board")

    # The board against the export, province by province.
    export = json.loads(run_intake("export", "--format", "json", config=cfg, cwd=tmp_path).stdout)
    rows = driver.find_elements(By.CSS_SELECTOR, "table.board tbody tr")
    assert len(rows) == len(export["provinces"]) == 31
    for row, p in zip(rows, export["provinces"], strict=True):
        cells = [c.text for c in row.find_elements(By.TAG_NAME, "td")]
        assert cells[0] == p["name"]
        assert cells[1] == f"{p['received']['individuals']}/{p['quota']['individuals']}"
        assert cells[2] == f"{p['received']['units']}/{p['quota']['units']}"

    # A province, one of its messages, and an attachment downloaded under its real name.
    driver.find_element(By.LINK_TEXT, "浙江省").click()
    _until(driver, lambda d: _h1(d).startswith("浙江省"))
    _shoot(driver, tmp_path, "province")
    driver.find_element(By.CSS_SELECTOR, "a[href^='/messages/']").click()
    _until(driver, lambda d: "/messages/" in d.current_url)
    _shoot(driver, tmp_path, "message")
    link = driver.find_element(By.PARTIAL_LINK_TEXT, "个人推荐表.docx")
    cookies = {c["name"]: c["value"] for c in driver.get_cookies()}
    download = httpx.get(link.get_attribute("href"), cookies=cookies)
    assert download.status_code == 200 and download.content[:2] == b"PK"
    assert "%E4%B8%AA%E4%BA%BA%E6%8E%A8%E8%8D%90%E8%A1%A8.docx" in download.headers["content-disposition"]

    # The nominee: correct the mis-read name.
    driver.find_element(By.LINK_TEXT, "王吉").click()
    _until(driver, lambda d: "/nominees/" in d.current_url)
    nominee_url = driver.current_url
    Select(driver.find_element(By.NAME, "field")).select_by_value("name")
    driver.find_element(By.NAME, "value").send_keys("王喆")
    driver.find_element(By.CSS_SELECTOR, "form.correct input[name=reason]").send_keys("推荐表姓名识别有误")
    driver.find_element(By.CSS_SELECTOR, "form.correct button").click()
    _until(driver, lambda d: _h1(d).startswith("王喆"))
    # Beside the fields, the original form as pictures (LibreOffice to PDF, then PNG).
    pages = driver.find_elements(By.CSS_SELECTOR, ".preview img")
    assert pages
    _until(driver, lambda d: all(d.execute_script("return arguments[0].naturalWidth", p) > 100 for p in pages))
    _shoot(driver, tmp_path, "nominee")

    # Reprocess everything: the correction stays.
    assert run_intake("reprocess", config=cfg, cwd=tmp_path).returncode == 0
    driver.get(nominee_url)
    assert driver.find_element(By.TAG_NAME, "h1").text.startswith("王喆")
    assert "王吉" in driver.find_element(By.CSS_SELECTOR, "main").text  # in the correction history
    driver.get(base + "/nominees?q=王喆")
    assert len(driver.find_elements(By.CSS_SELECTOR, "table.nominees tbody tr")) == 1
    _shoot(driver, tmp_path, "nominees")
    driver.get(base + "/audit")
    assert "王吉 → 王喆" in driver.find_element(By.TAG_NAME, "main").text
    _shoot(driver, tmp_path, "audit")
    # The outbox: receipts with their state beside reminders, returns and summaries.
    driver.get(base + "/outbox")
    receipts_table = driver.find_elements(By.CSS_SELECTOR, "main table")[-1].text
    assert "已发送" in receipts_table and "浙江省" in receipts_table
    _shoot(driver, tmp_path, "outbox")
    # 催报: the provinces that owe something, chosen; each letter previewed before anything goes.
    driver.get(base + "/remind")
    assert driver.find_elements(By.CSS_SELECTOR, "input[name=province][value=zj]:checked")
    _shoot(driver, tmp_path, "remind")
    driver.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
    _until(driver, lambda d: _h1(d).startswith("催报预览"))
    assert "fgdj-zj@aic.example.cn" in driver.find_element(By.TAG_NAME, "main").text
    _shoot(driver, tmp_path, "remind-preview")

    # A viewer reads but cannot correct: no form, and a forged POST is refused.
    driver.find_element(By.CSS_SELECTOR, "form.logout button").click()
    _until(driver, lambda d: "/login" in d.current_url)
    _login(driver, base, "viewer")
    driver.get(nominee_url)
    assert not driver.find_elements(By.CSS_SELECTOR, "form.correct")
    page = driver.page_source
    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    cookies = {c["name"]: c["value"] for c in driver.get_cookies()}
    refused = httpx.post(
        nominee_url + "/corrections",
        data={"field": "name", "value": "张三", "reason": "x", "csrf": token},
        cookies=cookies,
    )
    assert refused.status_code == 403

    # An admin's 用户 page.
    cfg_settings = load_settings(cfg)
    users.add_user(Store(cfg_settings.database.url, cfg_settings.archive.path), "admin", "admin", PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "form.logout button").click()
    _until(driver, lambda d: "/login" in d.current_url)
    _login(driver, base, "admin")
    driver.find_element(By.LINK_TEXT, "用户").click()
    _until(driver, lambda d: _h1(d) == "用户")
    assert "viewer" in driver.find_element(By.TAG_NAME, "main").text
    _shoot(driver, tmp_path, "users")
