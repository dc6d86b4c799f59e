"""``manage.py create_requester NAME [--password ...]``: a requester and its API token."""

from __future__ import annotations

import sys

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from labeling.services import requester_create


class Command(BaseCommand):
    help = (
        "Create a requester (a staff user in the Requesters group) and print its API token on stdout, "
        "for `CROWDCANVAS_TOKEN` or the client's credentials file. Without a password the account "
        "can use the API but not sign in to the admin."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", help="username of the new requester")
        secret = parser.add_mutually_exclusive_group()
        secret.add_argument("--password", help="password for the admin and dashboard (checked by the validators)")
        secret.add_argument(
            "--password-stdin",
            action="store_true",
            help="read the password from the first line of stdin (keeps it out of `ps`)",
        )
        parser.add_argument("--email", default="", help="email address")

    def handle(self, *args, name: str, password: str | None, password_stdin: bool, email: str, **options):
        if password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
        try:
            user, token = requester_create(username=name, password=password or None, email=email)
        except ValidationError as exc:
            messages = (
                [f"{key}: {' '.join(values)}" for key, values in exc.message_dict.items()]
                if hasattr(exc, "error_dict")
                else exc.messages
            )
            raise CommandError("; ".join(messages)) from None
        self.stderr.write(f"Created requester {user.username!r}. API token:")
        self.stdout.write(token)
