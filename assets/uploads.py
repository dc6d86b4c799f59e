"""Checking and storing uploaded images.

An upload is accepted only when Pillow recognizes it as JPEG, PNG, WebP or GIF,
it is within ``ASSET_MAX_BYTES`` and its header declares at most
``ASSET_MAX_PIXELS`` pixels (checked before any pixel is decoded, so a
decompression bomb is refused cheaply), and it then decodes completely. It is
stored once under its SHA-256 (``assets/ab/abcd....png``), whoever uploads it.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image, UnidentifiedImageError

ALLOWED_FORMATS = {
    "JPEG": ("jpg", "image/jpeg"),
    "PNG": ("png", "image/png"),
    "WEBP": ("webp", "image/webp"),
    "GIF": ("gif", "image/gif"),
}
# EXIF orientations that swap width and height when the browser applies them.
_TRANSPOSED_ORIENTATIONS = {5, 6, 7, 8}


@dataclass(frozen=True)
class CheckedImage:
    data: bytes
    sha256: str
    extension: str
    content_type: str
    width: int
    height: int

    @property
    def storage_name(self) -> str:
        return f"assets/{self.sha256[:2]}/{self.sha256}.{self.extension}"


def read_upload(upload, *, max_bytes: int | None = None) -> bytes:
    """Read an uploaded file, refusing it as soon as it passes the byte cap."""
    max_bytes = max_bytes or settings.ASSET_MAX_BYTES
    size = getattr(upload, "size", None)
    if size is not None and size > max_bytes:
        raise ValidationError(f"file is {size} bytes; the limit is {max_bytes} bytes.")
    chunks, total = [], 0
    for chunk in upload.chunks() if hasattr(upload, "chunks") else [upload.read()]:
        total += len(chunk)
        if total > max_bytes:
            raise ValidationError(f"file is over the limit of {max_bytes} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)


def check_image(data: bytes) -> CheckedImage:
    """Validate image bytes; raise ``ValidationError`` saying why not."""
    if len(data) > settings.ASSET_MAX_BYTES:
        raise ValidationError(f"file is {len(data)} bytes; the limit is {settings.ASSET_MAX_BYTES} bytes.")
    if not data:
        raise ValidationError("file is empty.")
    max_pixels = settings.ASSET_MAX_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                fmt = image.format
                if fmt not in ALLOWED_FORMATS:
                    raise ValidationError(f"images must be JPEG, PNG, WebP or GIF; this file is {fmt or 'unknown'}.")
                width, height = image.size
                if width < 1 or height < 1:
                    raise ValidationError("image has no pixels.")
                if width * height > max_pixels:
                    raise ValidationError(f"image is {width}x{height} pixels; the limit is {max_pixels} pixels in all.")
                orientation = image.getexif().get(0x0112, 1)
                image.load()  # decode fully: truncated or corrupt data fails here
    except ValidationError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        if isinstance(exc, UnidentifiedImageError):
            raise ValidationError("file is not an image Pillow can read (JPEG, PNG, WebP or GIF).") from exc
        raise ValidationError("image declares too many pixels (decompression bomb).") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ValidationError(f"image data is corrupt or truncated ({exc.__class__.__name__}).") from exc
    if orientation in _TRANSPOSED_ORIENTATIONS:
        width, height = height, width
    extension, content_type = ALLOWED_FORMATS[fmt]
    return CheckedImage(
        data=data,
        sha256=hashlib.sha256(data).hexdigest(),
        extension=extension,
        content_type=content_type,
        width=width,
        height=height,
    )


def store_image(checked: CheckedImage) -> str:
    """Write the image under its content hash unless it is already there."""
    name = checked.storage_name
    if not default_storage.exists(name):
        saved = default_storage.save(name, ContentFile(checked.data))
        if saved != name:  # a concurrent writer stored the same bytes first
            default_storage.delete(saved)
    return name
