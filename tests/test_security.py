"""Rate limits, the Content-Security-Policy on every HTML page, and the
production settings.

- Logins: 5 passwords checked per username and address in 5 minutes, then
  429 "too many attempts" (the site's login page and the admin's), each
  counted before its check (concurrent guesses do not slip through), in the
  cache, so across server processes when they share Redis.
- Sign-ups: ``SIGNUP_RATE`` per address, then a 429 page.
- Labeler API writes: ``SUBMIT_RATE`` per labeler, then a JSON 429 with
  ``Retry-After`` and ``"code": "rate_limited"``.
- ``manage.py check --deploy`` is clean with production settings, whose
  responses carry HSTS, secure cookies and the security headers.

Tenant isolation and CSRF: ``test_security_isolation.py``; truths:
``test_security_truths.py``; script injection in a browser:
``browser/test_xss.py``.
"""

from __future__ import annotations

import json
import re
import secrets
import subprocess
import sys
import textwrap
import time

import httpx
import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from audiences.selectors import global_audience
from core import throttles
from jobs.models import Lease, Response
from tests import factories
from tests.stack import ROOT, AsgiServer, RedisServer, django_env
from tests.test_security_isolation import fill, routes

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
ADMIN_LOGIN = "/admin/login/"


@pytest.fixture
def clock(monkeypatch):
    """The throttles' clock, moved by hand: windows never roll over mid-test."""
    now = [1_700_000_000.0]
    monkeypatch.setattr(throttles, "now", lambda: now[0])
    return now


def login(client: Client, username: str, password: str, *, url: str = LOGIN, address: str = "10.0.0.1"):
    return client.post(url, {"username": username, "password": password}, REMOTE_ADDR=address)


def is_signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


# --- failed logins ------------------------------------------------------------------------------


def test_five_failed_logins_then_429_even_with_the_right_password(labeler, clock):
    client = Client()
    for _ in range(5):
        response = login(client, "lara", "wrong password")
        assert response.status_code == 200 and "Please enter a correct username and password" in response.text
    refused = login(client, "lara", labeler.raw_password)
    assert refused.status_code == 429
    assert "Too many failed login attempts. Try again in 5 minute(s)." in refused.text
    assert 1 <= int(refused["Retry-After"]) <= 300
    assert refused["Content-Security-Policy"]  # the page is the login form, with its policy
    assert not is_signed_in(client)

    clock[0] += 301  # the window has passed
    assert login(client, "lara", labeler.raw_password).status_code == 302
    assert is_signed_in(client)


def test_login_limit_is_per_username_and_address(labeler, make_labeler, clock):
    other = make_labeler("otto")
    client = Client()
    for _ in range(5):
        login(client, "lara", "wrong password", address="10.0.0.1")
    assert login(client, "LARA", labeler.raw_password, address="10.0.0.1").status_code == 429  # same name
    assert login(Client(), "lara", labeler.raw_password, address="10.0.0.2").status_code == 302  # other address
    assert login(Client(), "otto", other.raw_password, address="10.0.0.1").status_code == 302  # other name


def test_a_successful_login_clears_the_failures(labeler, clock):
    for _ in range(4):
        login(Client(), "lara", "wrong password")
    assert login(Client(), "lara", labeler.raw_password).status_code == 302
    for _ in range(4):
        assert login(Client(), "lara", "wrong password").status_code == 200
    assert login(Client(), "lara", labeler.raw_password).status_code == 302


def test_admin_login_has_the_same_limit(requester, clock):
    client = Client()
    for _ in range(5):
        response = login(client, "alice", "wrong password", url=ADMIN_LOGIN)
        assert response.status_code == 200 and "errornote" in response.text
    refused = login(client, "alice", requester.raw_password, url=ADMIN_LOGIN)
    assert refused.status_code == 429 and "Too many failed login attempts" in refused.text
    assert refused["Retry-After"]
    assert not is_signed_in(client)
    # The two login pages share the count: it is the account that is protected.
    assert login(Client(), "alice", requester.raw_password).status_code == 429


def test_login_limit_steps_aside_when_the_cache_is_down(settings, labeler):
    settings.CACHES = {
        "default": {
            "BACKEND": "core.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:9/0",  # nothing listens on port 9
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }
    for _ in range(6):
        assert login(Client(), "lara", "wrong password").status_code == 200
    assert login(Client(), "lara", labeler.raw_password).status_code == 302


@pytest.mark.django_db(transaction=True)
def test_concurrent_wrong_guesses_check_no_more_passwords_than_the_limit(labeler, monkeypatch):
    """Twenty wrong passwords at once for one account from one address: the
    limit counts each before its password is checked, so at most five
    reach the hasher (counted after the check, all twenty did)."""
    import threading

    from django.contrib.auth.base_user import AbstractBaseUser
    from django.db import connections

    checked, lock = [], threading.Lock()
    real_check = AbstractBaseUser.check_password

    def slow_counted_check(self, raw_password):
        with lock:
            checked.append(raw_password)
        time.sleep(0.3)  # a slow hash: every guess arrives while the first are being checked
        return real_check(self, raw_password)

    monkeypatch.setattr(AbstractBaseUser, "check_password", slow_counted_check)
    guesses = 20
    start, statuses = threading.Barrier(guesses), []

    def guess(index: int) -> None:
        try:
            client = Client()
            start.wait()
            statuses.append(login(client, "lara", f"wrong password {index}").status_code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(guesses)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(statuses) == guesses
    assert len(checked) <= 5, f"{len(checked)} passwords checked"
    assert sorted(statuses) == [200] * len(checked) + [429] * (guesses - len(checked))
    assert login(Client(), "lara", labeler.raw_password).status_code == 429


def test_attempts_without_a_password_are_not_counted_but_are_refused_past_the_limit(labeler, clock):
    for _ in range(10):
        assert login(Client(), "lara", "").status_code == 200
    assert login(Client(), "lara", labeler.raw_password).status_code == 302
    for _ in range(5):
        login(Client(), "lara", "wrong password")
    assert login(Client(), "lara", "").status_code == 429


# --- sign-ups --------------------------------------------------------------------------------------


def signup(address: str, username: str):
    password = "plum-tangerine-quartz-81"
    return Client().post(
        "/signup/", {"username": username, "password1": password, "password2": password}, REMOTE_ADDR=address
    )


def test_signups_are_limited_per_address_with_a_429_page(settings, clock):
    settings.SIGNUP_RATE = "3/hour"
    assert [signup("10.0.0.1", f"new{i}").status_code for i in range(3)] == [302] * 3
    refused = signup("10.0.0.1", "new3")
    assert refused.status_code == 429
    assert "Too many sign-ups from your address. Try again in" in refused.text
    assert 1 <= int(refused["Retry-After"]) <= 3600
    assert refused["Content-Security-Policy"]
    assert not get_user_model().objects.filter(username="new3").exists()
    assert signup("10.0.0.2", "new4").status_code == 302  # another address
    clock[0] += 3600
    assert signup("10.0.0.1", "new5").status_code == 302


def test_failed_signups_count_too_and_the_limit_can_be_lifted(settings, clock):
    settings.SIGNUP_RATE = "2/hour"
    assert Client().post("/signup/", {"username": "x"}, REMOTE_ADDR="10.0.0.1").status_code == 200
    assert signup("10.0.0.1", "new0").status_code == 302
    assert signup("10.0.0.1", "new1").status_code == 429
    settings.SIGNUP_RATE = "none"
    assert signup("10.0.0.1", "new2").status_code == 302


# --- labeler API writes ------------------------------------------------------------------------------


def labeler_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_labeler_writes_are_limited_per_labeler_with_a_json_429(settings, requester, make_labeler, clock):
    settings.SUBMIT_RATE = "3/min"
    job = factories.draw_job(requester, global_audience(), datapoints=5, responses=2)
    lara, otto = labeler_client(make_labeler("lara")), labeler_client(make_labeler("otto"))
    task = lara.post(f"/api/labeler/jobs/{job.public_id}/tasks/next/").json()["task"]
    body = json.dumps({"response": factories.stroke_inside()})
    task = lara.post(f"/api/labeler/tasks/{task['id']}/submit/", body, content_type="application/json").json()["next"]
    assert lara.post("/api/labeler/heartbeat/").status_code == 201
    stored = Response.objects.count()

    refused = lara.post(f"/api/labeler/tasks/{task['id']}/submit/", body, content_type="application/json")
    assert refused.status_code == 429
    assert refused["Content-Type"] == "application/json"
    assert refused.json() == {
        "detail": f"Too many requests; try again in {refused['Retry-After']} seconds.",
        "code": "rate_limited",
    }
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert Response.objects.count() == stored  # the refused answer was not taken
    for path in (
        f"/api/labeler/jobs/{job.public_id}/tasks/next/",
        f"/api/labeler/tasks/{task['id']}/skip/",
        "/api/labeler/heartbeat/",
        f"/api/labeler/audiences/{global_audience().public_id}/qualification/next/",
    ):
        assert lara.post(path).status_code == 429, path
    assert lara.get("/api/labeler/home/").status_code == 200  # reads are not limited
    assert otto.post(f"/api/labeler/jobs/{job.public_id}/tasks/next/").status_code == 200  # per labeler

    clock[0] += int(refused["Retry-After"])
    accepted = lara.post(f"/api/labeler/tasks/{task['id']}/submit/", body, content_type="application/json")
    assert accepted.status_code == 200 and Response.objects.count() == stored + 1


def test_the_default_limit_is_above_what_a_person_needs_and_can_be_lifted(settings, requester, labeler, clock):
    assert settings.SUBMIT_RATE == "120/min"
    assert throttles.parse_rate(settings.SUBMIT_RATE) == throttles.Rate(120, 60)
    assert throttles.parse_rate("none") is None and throttles.parse_rate("30/5min") == throttles.Rate(30, 300)
    settings.SUBMIT_RATE = "none"
    client = labeler_client(labeler)
    assert all(client.post("/api/labeler/heartbeat/").status_code == 201 for _ in range(130))


def test_submission_limit_steps_aside_when_the_cache_is_down(settings, requester, labeler):
    settings.SUBMIT_RATE = "1/min"
    settings.CACHES = {
        "default": {
            "BACKEND": "core.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:9/0",
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }
    job = factories.draw_job(requester, global_audience())
    client = labeler_client(labeler)
    task = client.post(f"/api/labeler/jobs/{job.public_id}/tasks/next/").json()["task"]
    response = client.post(
        f"/api/labeler/tasks/{task['id']}/submit/", {"response": {"lines": []}}, content_type="application/json"
    )
    assert response.status_code == 200 and Lease.objects.get(public_id=task["id"]).status == Lease.Status.SUBMITTED


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_limits_hold_across_server_processes_sharing_redis(test_database_url, tmp_path, labeler, requester):
    redis = RedisServer().start()
    env = django_env(test_database_url, redis.url, SUBMIT_RATE="4/hour")
    servers = [AsgiServer(env, tmp_path / f"server-{i}.log").start() for i in range(2)]
    job = factories.draw_job(requester, global_audience(), datapoints=8, responses=1)
    from labeling.tokens import token_create

    token = token_create(user=labeler)[1]
    try:
        with httpx.Client(timeout=30) as http:

            def post_login(server, password):
                http.get(server.url + LOGIN)  # the CSRF cookie (shared by both: same host)
                form = {"username": "lara", "password": password, "csrfmiddlewaretoken": http.cookies["csrftoken"]}
                return http.post(server.url + LOGIN, data=form)

            statuses = [post_login(servers[i % 2], "wrong password").status_code for i in range(5)]
            assert statuses == [200] * 5
            for server in servers:
                refused = post_login(server, labeler.raw_password)
                assert refused.status_code == 429 and "Too many failed login attempts" in refused.text

            # Labeler writes: 4 an hour in all, whichever process takes them.
            while time.time() % 3600 > 3590:  # not across the top of an hour
                time.sleep(1)
            headers = {"Authorization": f"Token {token}"}
            path = f"/api/labeler/jobs/{job.public_id}/tasks/next/"
            statuses = [http.post(servers[i % 2].url + path, headers=headers).status_code for i in range(6)]
            assert statuses == [200, 200, 200, 200, 429, 429]
    finally:
        for server in servers:
            server.stop()
        redis.close()


# --- Content-Security-Policy -----------------------------------------------------------------------------


def test_every_html_page_carries_a_csp_without_inline_scripts(requester, labeler, operator, png_bytes):
    from assets.services import asset_create_image

    audience = factories.draw_audience(requester)
    job = factories.draw_job(requester, audience)
    asset = asset_create_image(owner=requester, data=png_bytes)
    values = {
        "audience_id": audience.public_id,
        "job_id": job.public_id,
        "definition_id": job.definition.public_id,
        "position": 0,
        "object_id": audience.pk,
        "app_label": "audiences",
        "content_type_id": 1,
        "url": "nowhere/",
        "uidb64": "x",
        "token": "y",
        "id": 1,
    }
    urls = {fill(route, values) for route, _, callback in routes() if not hasattr(callback, "cls")}
    urls |= {f"/media/{asset.file.name}", "/no/such/page/", "/admin/audiences/audience/?q=x", "/api/docs/"}
    assert {"/accounts/login/", "/signup/", "/admin/", f"/jobs/{job.public_id}/work/"} <= urls

    clients = {
        "anonymous": Client(),
        "labeler": labeler_client(labeler),
        "requester": labeler_client(requester),
        "operator": labeler_client(operator),
    }
    html_pages = 0
    for who, client in clients.items():
        for url in sorted(urls):
            response = client.get(url)
            if not response.get("Content-Type", "").startswith("text/html"):
                continue
            html_pages += 1
            policy = response.get("Content-Security-Policy", "")
            assert policy, (who, url, response.status_code)
            directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
            assert directives["script-src"] == "'self'", (who, url, policy)
            assert directives["object-src"] == "'none'" and directives["frame-ancestors"] == "'none'"
            if response.status_code == 200 and not url.startswith("/admin/"):
                body = response.content.decode()
                assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", body), (who, url)  # no inline script
    assert html_pages > 40


def test_the_api_docs_load_their_script_from_our_origin(client):
    docs = client.get("/api/docs/").content.decode()
    script = re.search(r'<script src="([^"]*\?script=[^"]*)"', docs).group(1)
    served = client.get(script.replace("&amp;", "&"))
    assert served.status_code == 200 and "SwaggerUIBundle" in served.content.decode()


# --- production settings ------------------------------------------------------------------------------------


def production_env(**extra: str) -> dict[str, str]:
    env = django_env(
        None, PRODUCTION="1", SECRET_KEY=secrets.token_urlsafe(64), ALLOWED_HOSTS="crowdcanvas.example.org"
    )
    env.pop("DEBUG", None)
    return {**env, **extra}


def test_check_deploy_is_clean_with_production_settings():
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=production_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
    weak = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={**production_env(), "SECRET_KEY": "short"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert weak.returncode != 0 and "security.W009" in weak.stderr  # the check has teeth


def test_production_refuses_debug():
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=production_env(DEBUG="1"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0 and "DEBUG must be off when PRODUCTION is on" in result.stderr


PRODUCTION_PROBE = textwrap.dedent("""
    import json, django
    django.setup()
    from django.test import Client

    client = Client(HTTP_HOST="crowdcanvas.example.org")
    plain = client.get("/accounts/login/")
    page = client.get("/accounts/login/", secure=True)
    signed_in = client.post("/accounts/login/", {"username": "lara", "password": PASSWORD}, secure=True)
    cookies = {name: {key: str(morsel[key]) for key in ("secure", "httponly", "samesite")}
               for name, morsel in {**page.cookies, **signed_in.cookies}.items()}
    print(json.dumps({"plain": [plain.status_code, plain.get("Location")], "headers": dict(page.headers),
                      "login": signed_in.status_code, "cookies": cookies}))
""")


@pytest.mark.django_db(transaction=True)
def test_production_responses_have_secure_cookies_and_security_headers(test_database_url, labeler):
    env = production_env(DATABASE_URL=test_database_url)
    script = PRODUCTION_PROBE.replace("PASSWORD", repr(labeler.raw_password))
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    probe = json.loads(result.stdout.strip().splitlines()[-1])
    assert probe["plain"] == [301, "https://crowdcanvas.example.org/accounts/login/"]  # SSL redirect
    headers = probe["headers"]
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert probe["login"] == 302
    assert probe["cookies"]["sessionid"] == {"secure": "True", "httponly": "True", "samesite": "Lax"}
    assert probe["cookies"]["csrftoken"]["secure"] == "True"
    assert get_user_model().objects.filter(username="lara").exists()
