import pytest


@pytest.mark.django_db
def test_global_audience_exists_after_migrate():
    from audiences.models import Audience

    audience = Audience.objects.get(public_id="global")
    assert audience.kind == Audience.Kind.GLOBAL
    assert audience.owner is None


@pytest.mark.django_db
def test_runs_on_postgres():
    from django.db import connection

    assert connection.vendor == "postgresql"
