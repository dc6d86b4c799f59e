"""API tokens move from DRF's authtoken (keys stored in clear) to knox
(SHA-512 digests, an expiry): each existing key is hashed into a knox token,
so it keeps working, and the clear keys are deleted.

``rest_framework.authtoken`` is no longer installed; its table, if this
database has one, is read and emptied with plain SQL (and left in place,
empty). The migrated tokens expire ``API_TOKEN_DAYS`` from now.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import migrations
from django.utils import timezone

LEGACY_TABLE = "authtoken_token"


def hash_legacy_tokens(apps, schema_editor):
    from knox.crypto import hash_token
    from knox.settings import CONSTANTS

    connection = schema_editor.connection
    if LEGACY_TABLE not in connection.introspection.table_names():
        return
    table = schema_editor.quote_name(LEGACY_TABLE)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {schema_editor.quote_name('key')}, user_id FROM {table}")
        rows = cursor.fetchall()
    AuthToken = apps.get_model("knox", "AuthToken")
    days = getattr(settings, "API_TOKEN_DAYS", 90)
    expiry = timezone.now() + timedelta(days=days) if days else None
    AuthToken.objects.bulk_create([
        AuthToken(digest=hash_token(key), token_key=key[: CONSTANTS.TOKEN_KEY_LENGTH], user_id=user_id,
                  expiry=expiry)
        for key, user_id in rows
    ], ignore_conflicts=True)
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table}")


class Migration(migrations.Migration):
    dependencies = [
        ("labeling", "0001_heartbeat"),
        ("knox", "0009_extend_authtoken_field"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [migrations.RunPython(hash_legacy_tokens, migrations.RunPython.noop, elidable=False)]
