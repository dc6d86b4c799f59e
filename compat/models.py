"""What the hosted service's client needs beyond our own models: client
credentials and the tokens they issued, datasets filled one datapoint at a
time before a definition is made of them, and URL batch uploads with their
status per item.

Nothing here holds a domain rule: datapoints, definitions, jobs, audiences
and assets are made by the ``jobs`` and ``audiences`` services.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from assets.models import UrlFetch  # noqa: F401  (a compat table, kept by assets: see there)


def _new(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def client_id() -> str:
    return _new("cid")


def dataset_id() -> str:
    return _new("dst")


def dataset_datapoint_id() -> str:
    return _new("ddp")


def batch_upload_id() -> str:
    return _new("bup")


class ClientCredential(models.Model):
    """An OAuth2 client of a requester: its id, and the SHA-512 digest of
    its secret (the secret itself is shown once, when made)."""

    client_id = models.CharField(max_length=40, unique=True, default=client_id, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="client_credentials")
    name = models.CharField(max_length=100, blank=True)
    secret_digest = models.CharField(max_length=128)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.name or self.client_id


class IssuedToken(models.Model):
    """An access token (a short-lived API token) issued to a client:
    revoking the client deletes the tokens it was issued."""

    # knox's digest (its token's primary key), not a foreign key: knox's table
    # is not ours to point constraints at.
    token_digest = models.CharField(max_length=128, unique=True)
    credential = models.ForeignKey(ClientCredential, on_delete=models.CASCADE, related_name="issued_tokens")


class Dataset(models.Model):
    """Datapoints sent one by one, before a job definition is made of them."""

    public_id = models.CharField(max_length=40, unique=True, default=dataset_id, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)


class DatasetDatapoint(models.Model):
    """One datapoint as sent: its items (asset public ids or texts, as
    ``assets.wire`` items), its context and its place."""

    public_id = models.CharField(max_length=40, unique=True, default=dataset_datapoint_id, editable=False)
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="datapoints")
    sort_index = models.IntegerField(default=0)
    items = models.JSONField()
    context = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["dataset", "sort_index", "id"]


class BatchUpload(models.Model):
    """URLs a client asked the server to fetch, under its correlation id."""

    public_id = models.CharField(max_length=40, unique=True, default=batch_upload_id, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    correlation_id = models.CharField(max_length=100, blank=True)
    aborted = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["owner", "correlation_id"])]
