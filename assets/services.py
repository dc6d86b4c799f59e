"""Creating assets: uploads checked and stored once per owner, URL and text
items made in bulk, compare pairs parsed."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction

from core.validation import field

from . import uploads as asset_files
from . import wire
from .models import Asset


def _key(kind: str, content: str) -> str:
    return hashlib.sha256(f"{kind}\x00{content}".encode()).hexdigest()


@transaction.atomic
def asset_upload(
    *, owner: AbstractBaseUser, upload, name: str | None = None, known_regions: list[dict] | None = None
) -> Asset:
    """Store an uploaded image (checked with Pillow) as one of ``owner``'s assets."""
    with field("file"):
        data = asset_files.read_upload(upload)
    return asset_create_image(
        owner=owner, data=data, name=name or getattr(upload, "name", "") or "", known_regions=known_regions
    )


@transaction.atomic
def asset_create_image(
    *, owner: AbstractBaseUser, data: bytes, name: str = "", known_regions: list[dict] | None = None
) -> Asset:
    with field("file"):
        checked = asset_files.check_image(data)
    if known_regions is not None:  # [] records that the image holds no target
        with field("known_regions"):
            if not isinstance(known_regions, list):
                raise ValidationError("known_regions must be a list of boxes.")
            known_regions = [
                wire.parse_box(box, f"known_regions[{i}]").as_dict() for i, box in enumerate(known_regions)
            ]
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1][:255]
    stored = asset_files.store_image(checked)
    asset, created = Asset.objects.get_or_create(
        owner=owner,
        key=_key("image", checked.sha256),
        defaults={
            "kind": Asset.Kind.IMAGE,
            "file": stored,
            "name": name,
            "content_type": checked.content_type,
            "byte_size": len(checked.data),
            "width": checked.width,
            "height": checked.height,
            "known_regions": known_regions,
        },
    )
    if not created and known_regions is not None and asset.known_regions != known_regions:
        asset.known_regions = known_regions
        asset.save(update_fields=["known_regions"])
    return asset


def assets_from_items(*, owner: AbstractBaseUser, specs: Sequence[wire.ItemSpec], where: str) -> list[Asset]:
    """Resolve item specs to ``owner``'s assets, creating URL and text assets
    in bulk. Uploaded assets are looked up among the owner's own only."""
    by_key: dict[str, Asset] = {}
    wanted: dict[str, tuple[str, str]] = {}
    asset_ids = set()
    for spec in specs:
        if spec.kind == "asset":
            asset_ids.add(spec.value)
        else:
            wanted[_key(spec.kind, spec.value)] = (spec.kind, spec.value)
    uploaded = {a.public_id: a for a in Asset.objects.filter(owner=owner, public_id__in=asset_ids)}
    missing_ids = sorted(asset_ids - uploaded.keys())
    if missing_ids:
        raise ValidationError({where: [f"unknown asset id {missing_ids[0]!r}; upload the file first."]})
    if wanted:
        by_key = {a.key: a for a in Asset.objects.filter(owner=owner, key__in=list(wanted))}
        new = [
            Asset(owner=owner, key=key, kind=kind, **({"url": value} if kind == "url" else {"text": value}))
            for key, (kind, value) in wanted.items()
            if key not in by_key
        ]
        if new:
            Asset.objects.bulk_create(new, ignore_conflicts=True, batch_size=1000)
            by_key = {a.key: a for a in Asset.objects.filter(owner=owner, key__in=list(wanted))}
    return [uploaded[spec.value] if spec.kind == "asset" else by_key[_key(spec.kind, spec.value)] for spec in specs]


def compare_pair_specs(pair: Any, where: str) -> tuple[wire.ItemSpec, wire.ItemSpec]:
    """A compare datapoint: exactly two distinct items."""
    if not isinstance(pair, (list, tuple)) or len(pair) != 2:
        raise ValidationError(f"{where} must be a list of exactly 2 items.")
    first = wire.parse_item(pair[0], f"{where}[0]")
    second = wire.parse_item(pair[1], f"{where}[1]")
    if first == second:
        raise ValidationError(f"{where} has the same item twice; the two items must differ.")
    return first, second
