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
    assert len(token) == 40 and "\n" not in token and "carol" in err
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


@pytest.mark.parametrize(("args", "fragment"), [(("carol",), "taken"), (("frank", "--password", "123"), "password"),
                                                (("  ",), "must not be empty")])
def test_refuses_with_a_clear_message(args, fragment):
    create_requester("carol")
    with pytest.raises(CommandError, match=fragment):
        create_requester(*args)
