"""`manage.py create_requester` makes a requester and prints a token the API accepts."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def create_requester(*args: str, stdin: str | None = None, monkeypatch=None) -> tuple[str, str]:
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    out, err = io.StringIO(), io.StringIO()
    call_command("create_requester", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_prints_a_token_that_authenticates_a_requester():
    out, err = create_requester("carol")
    token = out.strip()
    assert token.startswith("cc_") and len(token) == 67 and "\n" not in token and "carol" in err
    user = get_user_model().objects.get(username="carol")
    assert user.is_staff and not user.is_superuser and not user.has_usable_password()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    response = client.post("/api/audiences/", {"name": "Carol's audience"}, format="json")
    assert response.status_code == 201 and response.json()["owned"] is True


def test_password_from_the_option_or_stdin(monkeypatch):
    create_requester("dave", "--password", "correct-horse-battery-42")
    assert get_user_model().objects.get(username="dave").check_password("correct-horse-battery-42")
    create_requester("erin", "--password-stdin", stdin="another-long-passphrase-7\n", monkeypatch=monkeypatch)
    assert get_user_model().objects.get(username="erin").check_password("another-long-passphrase-7")


@pytest.mark.parametrize(
    ("args", "fragment"),
    [(("carol",), "taken"), (("frank", "--password", "123"), "password"), (("  ",), "must not be empty")],
)
def test_refuses_with_a_clear_message(args, fragment):
    create_requester("carol")
    with pytest.raises(CommandError, match=fragment):
        create_requester(*args)


# --- stored hashed, expiring, revocable --------------------------------------------------------------


def api(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def authenticates(token: str) -> bool:
    status = api(token).get("/api/audiences/").status_code
    assert status in (200, 401), status
    return status == 200


def test_the_key_is_not_stored(requester):
    from django.db import connection

    from labeling.tokens import AuthToken

    key = requester.api_token
    (row,) = AuthToken.objects.filter(user=requester)
    assert key.startswith(row.token_key) and len(row.token_key) == 15 < len(key)
    assert row.digest != key and key not in row.digest
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {AuthToken._meta.db_table}")
        assert not any(key in str(value) for record in cursor.fetchall() for value in record)
    assert authenticates(key)


def test_tokens_expire_after_api_token_days(settings, requester):
    from datetime import timedelta

    from django.utils import timezone

    from labeling.tokens import AuthToken, token_create

    settings.API_TOKEN_DAYS = 30
    row, key = token_create(user=requester)
    assert abs(row.expiry - (timezone.now() + timedelta(days=30))) < timedelta(minutes=1)
    assert authenticates(key)
    AuthToken.objects.filter(pk=row.pk).update(expiry=timezone.now() - timedelta(seconds=1))
    response = api(key).get("/api/audiences/")
    assert response.status_code == 401 and response["WWW-Authenticate"] == "Token"
    assert not AuthToken.objects.filter(pk=row.pk).exists()  # an expired token is deleted when seen
    settings.API_TOKEN_DAYS = 0
    assert token_create(user=requester)[0].expiry is None


def test_revoked_and_deactivated_tokens_are_401(requester, other_requester):
    from labeling.tokens import token_create, token_revoke

    row, key = token_create(user=requester)
    assert token_revoke(user=other_requester, token_key=row.token_key) == 0  # only the owner revokes
    assert authenticates(key) and authenticates(requester.api_token)
    assert token_revoke(user=requester, token_key=row.token_key) == 1
    assert not authenticates(key) and authenticates(requester.api_token)
    requester.is_active = False
    requester.save()
    assert not authenticates(requester.api_token)


def test_the_websocket_takes_only_live_tokens(requester):
    from datetime import timedelta

    from django.utils import timezone

    from labeling.tokens import AuthToken, token_create, token_revoke, user_for_key

    assert user_for_key(requester.api_token) == requester
    row, key = token_create(user=requester)
    AuthToken.objects.filter(pk=row.pk).update(expiry=timezone.now() - timedelta(seconds=1))
    assert not user_for_key(key).is_authenticated
    token_revoke(user=requester, token_key=requester.api_token[:15])
    assert not user_for_key(requester.api_token).is_authenticated
    assert not user_for_key("not a token \u00e9").is_authenticated


def test_existing_clear_tokens_are_hashed_by_the_migration_and_keep_working(requester):
    """labeling 0002: a database with DRF's authtoken table keeps its keys
    working, as knox digests, and loses the clear keys."""
    import importlib
    from types import SimpleNamespace

    from django.apps import apps
    from django.db import connection

    migration = importlib.import_module("labeling.migrations.0002_hash_api_tokens")
    legacy_key = "9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b"
    with connection.cursor() as cursor:
        cursor.execute(
            'CREATE TABLE authtoken_token ("key" varchar(40) PRIMARY KEY, created timestamp, user_id integer NOT NULL)'
        )
        cursor.execute("INSERT INTO authtoken_token VALUES (%s, CURRENT_TIMESTAMP, %s)", [legacy_key, requester.pk])
    assert not authenticates(legacy_key)
    migration.hash_legacy_tokens(apps, SimpleNamespace(connection=connection, quote_name=connection.ops.quote_name))
    assert authenticates(legacy_key)
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM authtoken_token")
        assert cursor.fetchone()[0] == 0


# --- made, shown once and revoked on the dashboard and in the admin ---------------------------------------


def test_the_dashboard_makes_a_token_shows_it_once_and_revokes_it(requester, other_requester):
    import re

    from django.test import Client

    client = Client(enforce_csrf_checks=False)
    client.force_login(requester)
    made = client.post("/dashboard/tokens/", {"action": "create"})
    assert made.status_code == 200 and made["Cache-Control"] == "no-store"
    key = re.search(r'<code class="api-token">([^<]+)</code>', made.content.decode()).group(1)
    assert authenticates(key)
    listed = client.get("/dashboard/tokens/").content.decode()
    assert key not in listed and key[:15] in listed and requester.api_token[:15] in listed

    bob = Client()
    bob.force_login(other_requester)
    bob.post("/dashboard/tokens/", {"action": "revoke", "token_key": key[:15]})
    assert authenticates(key)  # not Bob's to revoke
    assert key[:15] not in bob.get("/dashboard/tokens/").content.decode()

    assert (
        "1 token revoked"
        in client.post("/dashboard/tokens/", {"action": "revoke", "token_key": key[:15]}).content.decode()
    )
    assert not authenticates(key) and authenticates(requester.api_token)


def test_the_dashboard_tokens_page_is_for_requesters_with_csrf(requester, labeler):
    from django.test import Client

    client = Client()
    client.force_login(labeler)
    assert client.get("/dashboard/tokens/").status_code == 403
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(requester)
    assert strict.post("/dashboard/tokens/", {"action": "create"}).status_code == 403


def test_the_admin_makes_tokens_shows_them_once_and_revokes_them(client, operator, requester):
    import re

    from django.urls import reverse

    from labeling.tokens import AuthToken

    client.force_login(operator)
    page = client.post(
        reverse("admin:auth_user_changelist"), {"action": "create_token", "_selected_action": [requester.pk]}
    )
    assert page.status_code == 200 and "no-store" in page["Cache-Control"]
    key = re.search(r'<code class="api-token">([^<]+)</code>', page.content.decode()).group(1)
    assert authenticates(key)
    changelist = client.get(reverse("admin:knox_authtoken_changelist")).content.decode()
    assert key[:15] in changelist and key not in changelist
    assert client.get(reverse("admin:knox_authtoken_add")).status_code == 403
    row = AuthToken.objects.get(token_key=key[:15])
    client.post(reverse("admin:knox_authtoken_changelist"), {"action": "revoke", "_selected_action": [row.pk]})
    assert not authenticates(key) and authenticates(requester.api_token)
