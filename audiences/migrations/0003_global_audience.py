"""The global audience exists from the start, with the public id ``global``."""

from django.db import migrations


def create_global(apps, schema_editor):
    Audience = apps.get_model("audiences", "Audience")
    Audience.objects.get_or_create(
        public_id="global",
        defaults={
            "kind": "global",
            "name": "Global",
            "description": "Every labeler. Ready to work on any task immediately.",
        },
    )


def remove_global(apps, schema_editor):
    apps.get_model("audiences", "Audience").objects.filter(public_id="global").delete()


class Migration(migrations.Migration):
    dependencies = [("audiences", "0002_initial")]
    operations = [migrations.RunPython(create_global, remove_global)]
