"""Images a requester sends from the dashboard: several files, a folder or a
zip, and pasted URLs, turned into the items the job and audience services
take.

Every image is checked with Pillow (``jobs.assets.check_image``: format,
bytes, declared pixels before decoding, a full decode) before any asset is
stored, so a bad file anywhere leaves nothing behind. A zip is read entry by
entry with each entry's bytes capped as they are read (a zip's declared sizes
may lie), the number of entries and the bytes in all capped too.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError

from assets import services as asset_services
from assets import uploads as asset_files

MAX_FILES = 100  # images per form, as files or zip entries (Django's DATA_UPLOAD_MAX_NUMBER_FILES too)
MAX_ZIP_BYTES = 200 * 1024 * 1024  # the zip file itself
MAX_TOTAL_BYTES = 200 * 1024 * 1024  # all the images together, once unpacked
MAX_URLS = 10_000


@dataclass(frozen=True)
class ImageFile:
    name: str
    data: bytes


def _is_skipped(name: str) -> bool:
    """Folders, and what archivers and file browsers leave beside the images."""
    base = name.rsplit("/", 1)[-1]
    return name.endswith("/") or name.startswith("__MACOSX/") or base.startswith(".") or base in ("Thumbs.db",)


def _zip_entries(upload) -> Iterator[ImageFile]:
    size = getattr(upload, "size", None)
    if size is not None and size > MAX_ZIP_BYTES:
        raise ValidationError(f"the zip is {size} bytes; the limit is {MAX_ZIP_BYTES} bytes.")
    upload.seek(0)
    try:
        archive = zipfile.ZipFile(upload)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ValidationError("the zip file is not a zip archive, or it is damaged.") from exc
    with archive:
        entries = sorted(
            (info for info in archive.infolist() if not _is_skipped(info.filename)), key=lambda info: info.filename
        )
        if len(entries) > MAX_FILES:
            raise ValidationError(f"the zip holds {len(entries)} files; at most {MAX_FILES} are taken at once.")
        for info in entries:
            if info.file_size > settings.ASSET_MAX_BYTES:
                raise ValidationError(
                    f"{info.filename[:100]}: {info.file_size} bytes unpacked; the limit is "
                    f"{settings.ASSET_MAX_BYTES} bytes per image."
                )
            try:
                with archive.open(info) as entry:
                    data = entry.read(settings.ASSET_MAX_BYTES + 1)
            except (zipfile.BadZipFile, RuntimeError, NotImplementedError, OSError, EOFError) as exc:
                raise ValidationError(
                    f"{info.filename[:100]}: cannot be unpacked (damaged, encrypted or an unknown compression)."
                ) from exc
            if len(data) > settings.ASSET_MAX_BYTES:
                raise ValidationError(f"{info.filename[:100]}: more than {settings.ASSET_MAX_BYTES} bytes unpacked.")
            yield ImageFile(info.filename, data)


def _upload_files(uploads: Iterable) -> Iterator[ImageFile]:
    for upload in sorted(uploads, key=lambda upload: upload.name or ""):
        if _is_skipped(upload.name or ""):
            continue
        upload.seek(0)
        try:
            data = asset_files.read_upload(upload)
        except ValidationError as exc:
            raise ValidationError(f"{(upload.name or 'a file')[:100]}: {' '.join(exc.messages)}") from exc
        yield ImageFile(upload.name or "", data)


def _images(*, files: Iterable, archive) -> Iterator[ImageFile]:
    yield from _upload_files(files)
    if archive is not None:
        yield from _zip_entries(archive)


def images_check(*, files: list, archive=None) -> int:
    """Check every image (count, bytes, Pillow) without storing any; returns
    how many there are. ``ValidationError`` names the first bad one."""
    count = total = 0
    for image in _images(files=files, archive=archive):
        count += 1
        total += len(image.data)
        if count > MAX_FILES:
            raise ValidationError(f"more than {MAX_FILES} images; send at most {MAX_FILES} at once.")
        if total > MAX_TOTAL_BYTES:
            raise ValidationError(f"the images come to more than {MAX_TOTAL_BYTES} bytes in all.")
        try:
            asset_files.check_image(image.data)
        except ValidationError as exc:
            raise ValidationError(f"{image.name[:100] or 'a file'}: {' '.join(exc.messages)}") from exc
    return count


def images_store(*, owner: AbstractBaseUser, files: list, archive=None) -> list[dict]:
    """The images, checked by ``images_check`` first, stored as ``owner``'s
    assets in name order; returns them as the services' items
    (``{"asset_id": ...}``). Call inside the transaction that uses them."""
    images_check(files=files, archive=archive)
    return [
        {"asset_id": asset_services.asset_create_image(owner=owner, data=image.data, name=image.name).public_id}
        for image in _images(files=files, archive=archive)
    ]


def url_item(url: str) -> str:
    """A pasted URL as a datapoint item. The services take a URL as it is
    (its image is loaded by the labeler's browser); the one place to change
    should URL images come to be fetched and checked on the server."""
    return url


def url_lines(text: str, *, per_line: int) -> list:
    """Pasted URLs, one datapoint a line: one URL (draw) or two separated by
    spaces (compare). Blank lines are skipped; the services check each URL."""
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != per_line:
            want = "one URL" if per_line == 1 else f"{per_line} URLs separated by spaces"
            raise ValidationError(f"line {number}: expected {want}, found {len(parts)}.")
        rows.append(url_item(parts[0]) if per_line == 1 else [url_item(part) for part in parts])
        if len(rows) > MAX_URLS:
            raise ValidationError(f"more than {MAX_URLS} lines; create the job with the API instead.")
    return rows
