"""``manage.py create_requester NAME [--client-credentials]``: the project's
command, plus client credentials for the hosted service's client."""

from __future__ import annotations

import io

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError, OutputWrapper
from knox.models import AuthToken

from labeling.management.commands.create_requester import Command as RequesterCommand

from ...credentials import credential_create


class Command(RequesterCommand):
    help = RequesterCommand.help + (
        " With --client-credentials it prints RAPIDATA_CLIENT_ID=... and RAPIDATA_CLIENT_SECRET=... lines "
        "(for `export`) instead, for the hosted service's client."
    )

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument(
            "--client-credentials",
            action="store_true",
            help="print OAuth2 client credentials as shell assignments instead of the API token",
        )

    def handle(self, *args, client_credentials: bool = False, **options):
        if not client_credentials:
            return super().handle(*args, **options)
        stdout = self.stdout
        self.stdout = OutputWrapper(io.StringIO())  # the API token, never shown: deleted below
        try:
            super().handle(*args, **options)
        finally:
            self.stdout = stdout
        user = get_user_model().objects.filter(username=options["name"].strip()).first()
        if user is None:
            raise CommandError("the requester was not created.")
        AuthToken.objects.filter(user=user).delete()
        credential, secret = credential_create(owner=user, name="create_requester")
        self.stderr.write("Client credentials (the secret is shown once):")
        self.stdout.write(f"RAPIDATA_CLIENT_ID={credential.client_id}")
        self.stdout.write(f"RAPIDATA_CLIENT_SECRET={secret}")
