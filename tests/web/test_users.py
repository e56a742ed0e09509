"""Users and sessions: a session ends when its user is disabled, gets a new password or signs out
(anywhere); the admin's 用户 page; the secret that signs sessions; throttling behind a proxy; a
wrong name costs a password check like a wrong password; a CSRF value of any characters."""

from __future__ import annotations

import re
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from intake.core.errors import ConfigError, LoginRefused
from intake.core.secret import secret_key
from intake.core.settings import Settings, load_settings
from intake.office import users
from intake.web import auth
from intake.web.app import create_app
from store.repo import Store
from tests.conftest import cli_env, embedded_config, run_intake

PASSWORD = "correct horse 1"


@pytest.fixture
def deployment(tmp_path: Path) -> tuple[Path, Settings, Store]:
    cfg = embedded_config(
        tmp_path,
        web={"secret_file": str(tmp_path / "secret"), "trusted_proxies": ["10.0.0.1", "fd00::/64"]},
        provinces=[{"code": "zj", "name": "浙江省", "individuals": 6, "units": 2, "senders": ["a@zj.example.cn"]}],
    )
    settings = load_settings(cfg)
    store = Store(settings.database.url, settings.archive.path)
    users.add_user(store, "admin", "admin", PASSWORD)
    users.add_user(store, "reviewer", "reviewer", PASSWORD)
    return cfg, settings, store


def _client(settings: Settings, store: Store, peer: str = "127.0.0.1") -> TestClient:
    return TestClient(create_app(settings, store), client=(peer, 40000))


def _login(client: TestClient, name: str, password: str = PASSWORD, **headers: str) -> str:
    client.get("/login")
    r = client.post("/login", data={"username": name, "password": password}, headers=headers, follow_redirects=False)
    assert r.status_code == 303, r.text
    m = re.search(r'name="csrf" value="([^"]+)"', client.get("/").text)
    assert m
    return m.group(1)


def _signed_in(client: TestClient) -> bool:
    r = client.get("/", follow_redirects=False)
    assert r.status_code in (200, 303)
    return r.status_code == 200


def test_a_disabled_user_is_signed_out_at_once(deployment) -> None:  # type: ignore[no-untyped-def]
    cfg, settings, store = deployment
    client = _client(settings, store)
    _login(client, "reviewer")
    assert _signed_in(client)
    done = run_intake("user", "disable", "reviewer", config=cfg)
    assert done.returncode == 0 and "disabled" in done.stdout, done.stderr
    assert not _signed_in(client)  # the same cookie, refused on its next request
    with pytest.raises(LoginRefused):
        users.authenticate(store, "reviewer", PASSWORD, "127.0.0.9", datetime.now(UTC))
    listed = run_intake("user", "list", config=cfg).stdout
    assert re.search(r"^reviewer\treviewer\tdisabled\t", listed, re.M) and re.search(
        r"^admin\tadmin\tactive", listed, re.M
    )
    # Enabled again, the old session stays ended; a new sign-in works.
    assert run_intake("user", "enable", "reviewer", config=cfg).returncode == 0
    assert not _signed_in(client)
    _login(client, "reviewer")
    assert _signed_in(client)
    with store.session() as repo:
        actions = [e.action for e in repo.audit()]
    assert "user_disable" in actions and "user_enable" in actions


def test_a_new_password_and_signing_out_end_every_session(deployment) -> None:  # type: ignore[no-untyped-def]
    cfg, settings, store = deployment
    office, home = _client(settings, store), _client(settings, store)
    _login(office, "reviewer")
    home.cookies.update(office.cookies)  # the same session, copied to another machine
    assert _signed_in(home)
    env = {"INTAKE_NEW_PW": "another horse 2"}
    done = run_intake(
        "user", "passwd", "reviewer", "--password-env", "INTAKE_NEW_PW", config=cfg, env={**cli_env(), **env}
    )
    assert done.returncode == 0, done.stderr
    assert not _signed_in(office) and not _signed_in(home)
    token = _login(office, "reviewer", "another horse 2")
    home.cookies.update(office.cookies)
    assert _signed_in(home)
    assert office.post("/logout", data={"csrf": token}, follow_redirects=False).status_code == 303
    assert not _signed_in(home)  # signing out in one place ends the copy as well


def test_the_admins_users_page(deployment) -> None:  # type: ignore[no-untyped-def]
    _cfg, settings, store = deployment
    reviewer = _client(settings, store)
    rtoken = _login(reviewer, "reviewer")
    assert reviewer.get("/users").status_code == 403
    assert 'href="/users"' not in reviewer.get("/").text
    r = reviewer.post("/users/add", data={"csrf": rtoken, "name": "x", "role": "admin", "password": "12345678"})
    assert r.status_code == 403

    admin = _client(settings, store)
    token = _login(admin, "admin")
    page = admin.get("/users").text
    assert "reviewer" in page and "审核" in page and "停用" in page
    new = {"csrf": token, "name": "张明", "role": "viewer", "password": "zhangming-1", "again": "zhangming-1"}
    assert admin.post("/users/add", data=new, follow_redirects=False).status_code == 303
    again = admin.post("/users/add", data={**new, "role": "admin"})
    assert again.status_code == 400 and "已存在" in again.text  # the console never overwrites a user
    assert admin.post("/users/add", data={**new, "name": "李四", "again": "other"}).status_code == 400
    viewer = _client(settings, store)
    _login(viewer, "张明", "zhangming-1")
    change = {"csrf": token, "name": "张明"}
    assert admin.post("/users/change", data={**change, "what": "disable"}, follow_redirects=False).status_code == 303
    assert not _signed_in(viewer)
    assert "已停用" in admin.get("/users").text
    assert admin.post("/users/change", data={**change, "what": "enable"}, follow_redirects=False).status_code == 303
    reset = {**change, "what": "password", "password": "zhangming-2", "again": "zhangming-2"}
    assert admin.post("/users/change", data=reset, follow_redirects=False).status_code == 303
    _login(viewer, "张明", "zhangming-2")
    # The last admin is never disabled: nobody could manage users after.
    last = admin.post("/users/change", data={"csrf": token, "name": "admin", "what": "disable"})
    assert last.status_code == 400 and "最后一个管理员" in last.text
    with store.session() as repo:
        entries = [(e.actor, e.action) for e in repo.audit()]
    assert ("admin", "user_add") in entries and ("admin", "user_password") in entries


def test_throttling_keys_on_the_person_behind_the_proxy(deployment) -> None:  # type: ignore[no-untyped-def]
    _cfg, settings, store = deployment
    proxy = _client(settings, store, peer="10.0.0.1")
    for i in range(5):  # five names tried from one machine behind the office's proxy
        proxy.get("/login")
        r = proxy.post(
            "/login",
            data={"username": f"guess{i}", "password": "x"},
            headers={"X-Forwarded-For": "203.0.113.5"},
            follow_redirects=False,
        )
        assert r.status_code == 401 and "用户名或密码不正确" in r.text
    r = proxy.post(
        "/login", data={"username": "reviewer", "password": PASSWORD}, headers={"X-Forwarded-For": "203.0.113.5"}
    )
    assert r.status_code == 401 and "15分钟" in r.text  # that machine waits
    # Everyone else behind the same proxy signs in; a proxy chain is read from its trusted end.
    colleague = _client(settings, store, peer="10.0.0.1")
    _login(colleague, "reviewer", **{"X-Forwarded-For": "203.0.113.5, 198.51.100.7"})
    with store.session() as repo:
        assert repo.failed_logins_since(datetime(2000, 1, 1, tzinfo=UTC), address="203.0.113.5") == 5
        assert repo.failed_logins_since(datetime(2000, 1, 1, tzinfo=UTC), address="10.0.0.1") == 0
    # A peer that is not a trusted proxy is its own address, whatever header it sends.
    outsider = _client(settings, store, peer="192.0.2.50")
    outsider.get("/login")
    outsider.post("/login", data={"username": "nobody", "password": "x"}, headers={"X-Forwarded-For": "203.0.113.6"})
    with store.session() as repo:
        assert repo.failed_logins_since(datetime(2000, 1, 1, tzinfo=UTC), address="192.0.2.50") == 1
        assert repo.failed_logins_since(datetime(2000, 1, 1, tzinfo=UTC), address="203.0.113.6") == 0


def test_an_unknown_name_costs_a_password_check(deployment, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    _cfg, _settings, store = deployment
    checked: list[str] = []
    real = users.PasswordHasher.verify

    def counted(self, hash, password):  # type: ignore[no-untyped-def]
        checked.append(password)
        return real(self, hash, password)

    monkeypatch.setattr(users.PasswordHasher, "verify", counted)
    now = datetime.now(UTC)
    for name in ("reviewer", "nobody-at-all"):
        with pytest.raises(LoginRefused, match="用户名或密码不正确"):
            users.authenticate(store, name, "wrong password", "127.0.0.3", now)
    assert checked == ["wrong password", "wrong password"]
    with pytest.raises(LoginRefused):  # the dummy hash opens nothing, whatever is typed
        users.authenticate(
            store, "nobody-at-all", "no such user: this hash is only ever compared against", "127.0.0.4", now
        )


def test_a_csrf_value_of_any_characters_is_refused_not_an_error(deployment) -> None:  # type: ignore[no-untyped-def]
    _cfg, settings, store = deployment
    client = _client(settings, store)
    _login(client, "admin")
    for forged in ("令牌", "x" * 5000, ""):
        r = client.post("/users/change", data={"csrf": forged, "name": "reviewer", "what": "disable"})
        assert r.status_code == 403, forged
    # Bytes that are no UTF-8 at all.
    raw = b"csrf=%FF%FE%80&name=reviewer&what=disable"
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    assert client.post("/users/change", content=raw, headers=form).status_code == 403
    assert auth.same_token(["a"], "a") is False and auth.same_token("é", "é") is True


def test_the_session_secret(tmp_path: Path) -> None:
    made = tmp_path / "data" / "web-secret"
    key = secret_key(made)
    assert len(key.encode()) >= 32 and stat.S_IMODE(made.stat().st_mode) == 0o600
    assert secret_key(made) == key  # made once
    assert [p.name for p in made.parent.iterdir()] == ["web-secret"]  # no temporary left behind
    short = tmp_path / "short"
    short.write_text("secret\n")
    with pytest.raises(ConfigError, match="fewer than 32"):
        secret_key(short)
    empty = tmp_path / "empty"
    empty.write_text("")
    with pytest.raises(ConfigError, match="fewer than 32"):
        secret_key(empty)
    cfg = embedded_config(tmp_path, web={"secret_file": str(short), "port": 1})
    done = run_intake("web", config=cfg)
    assert done.returncode == 78 and str(short) in done.stderr and "Traceback" not in done.stderr


def test_an_unknown_address_answers_in_the_offices_words(deployment) -> None:  # type: ignore[no-untyped-def]
    _cfg, settings, store = deployment
    client = _client(settings, store)
    for method, path, status in (("GET", "/no-such-page", 404), ("PUT", "/login", 405), ("GET", "/static/x.js", 404)):
        r = client.request(method, path)
        assert r.status_code == status and "Not Found" not in r.text and "Method Not Allowed" not in r.text, r.text
        assert "页面" in r.text or "访问方式" in r.text, r.text
