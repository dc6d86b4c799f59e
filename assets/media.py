"""Serving stored images and their thumbnails.

Files are named by their SHA-256, so a URL reveals nothing about the
datapoint it belongs to and cannot be guessed. Only signed-in users get
them. Thumbnails are made on first request and kept beside the originals.
"""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404
from django.views.decorators.http import require_GET
from PIL import Image, ImageOps

from assets.uploads import ALLOWED_FORMATS

THUMBNAIL_SIZES = (96, 160, 320, 640)
_ORIGINAL = re.compile(r"^assets/([0-9a-f]{2})/([0-9a-f]{64})\.(jpg|png|webp|gif)$")
_THUMBNAIL = re.compile(r"^thumbs/([0-9a-f]{64})_(\d+)\.(jpg|png)$")
_CONTENT_TYPES = dict(ALLOWED_FORMATS.values())


def thumbnail_name(storage_name: str, size: int) -> str:
    sha = Path(storage_name).stem
    ext = "png" if storage_name.endswith((".png", ".gif", ".webp")) else "jpg"
    return f"thumbs/{sha}_{size}.{ext}"


def thumbnail_url(storage_name: str, size: int = 160) -> str:
    return settings.MEDIA_URL + thumbnail_name(storage_name, size)


def _make_thumbnail(target: Path, sha: str, size: int) -> None:
    sources = list((Path(settings.MEDIA_ROOT) / "assets" / sha[:2]).glob(f"{sha}.*"))
    if not sources:
        raise Http404("No such image.")
    with Image.open(sources[0]) as image:
        image = ImageOps.exif_transpose(image)
        image.thumbnail((size, size))
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(target.suffix + ".tmp")
        if target.suffix == ".jpg":
            image.convert("RGB").save(tmp, "JPEG", quality=85)
        else:
            image.convert("RGBA").save(tmp, "PNG", optimize=True)
        tmp.replace(target)


@require_GET
@login_required
def serve_media(request, path: str):
    root = Path(settings.MEDIA_ROOT)
    if match := _ORIGINAL.match(path):
        target = root / path
        content_type = _CONTENT_TYPES[match.group(3)]
    elif match := _THUMBNAIL.match(path):
        size = int(match.group(2))
        if size not in THUMBNAIL_SIZES:
            raise Http404("No such thumbnail size.")
        target = root / path
        if not target.exists():
            _make_thumbnail(target, match.group(1), size)
        content_type = "image/jpeg" if path.endswith(".jpg") else "image/png"
    else:
        raise Http404("No such file.")
    if not target.is_file():
        raise Http404("No such file.")
    response = FileResponse(target.open("rb"), content_type=content_type)
    response["Cache-Control"] = "private, max-age=31536000, immutable"
    response["Content-Security-Policy"] = "default-src 'none'"
    return response
