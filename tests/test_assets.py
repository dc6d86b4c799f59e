"""Uploads are checked with Pillow and stored once under their content hash."""

from __future__ import annotations

import hashlib
import io
import time
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from assets import services
from assets.models import Asset
from tests.conftest import image_bytes

pytestmark = pytest.mark.django_db


def upload(owner, data: bytes, name: str = "picture.png") -> Asset:
    return services.asset_upload(owner=owner, upload=SimpleUploadedFile(name, data))


def assert_refused(owner, data: bytes, fragment: str, name: str = "picture.png") -> None:
    before = Asset.objects.count()
    with pytest.raises(ValidationError) as excinfo:
        upload(owner, data, name)
    messages = excinfo.value.message_dict["file"]
    assert any(fragment in message for message in messages), messages
    assert Asset.objects.count() == before


@pytest.mark.parametrize(
    ("fmt", "content_type"),
    [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("WEBP", "image/webp"), ("GIF", "image/gif")],
)
def test_accepts_the_four_formats_and_records_size(requester, media_root, fmt, content_type):
    data = image_bytes(120, 80, fmt)
    asset = upload(requester, data, f"photo.{fmt.lower()}")
    assert (asset.kind, asset.width, asset.height, asset.content_type) == ("image", 120, 80, content_type)
    assert asset.byte_size == len(data)
    sha = hashlib.sha256(data).hexdigest()
    assert Path(asset.file.name).stem == sha
    assert (media_root / asset.file.name).read_bytes() == data


def test_same_file_is_stored_once(requester, other_requester, media_root):
    data = image_bytes(30, 30)
    mine = upload(requester, data, "a.png")
    again = upload(requester, data, "renamed.png")
    theirs = upload(other_requester, data, "b.png")
    assert mine.pk == again.pk  # one asset per owner and content
    assert theirs.pk != mine.pk and theirs.file.name == mine.file.name
    stored = list((media_root / "assets").rglob(f"{hashlib.sha256(data).hexdigest()}*"))
    assert len(stored) == 1


def test_refuses_a_non_image(requester):
    assert_refused(requester, b"%PDF-1.4 definitely not an image", "not an image")


def test_refuses_svg(requester):
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect width="10" height="10"/></svg>'
    assert_refused(requester, svg, "not an image", name="logo.svg")
    assert_refused(requester, svg, "not an image", name="logo.png")


def test_refuses_html_disguised_as_an_image(requester):
    assert_refused(requester, b"<html><script>alert(1)</script></html>", "not an image", name="x.jpg")


def test_refuses_other_image_formats(requester):
    buffer = io.BytesIO()
    Image.new("RGB", (10, 10)).save(buffer, "BMP")
    assert_refused(requester, buffer.getvalue(), "must be JPEG, PNG, WebP or GIF", name="x.bmp")


def test_refuses_an_oversized_file(requester, settings):
    settings.ASSET_MAX_BYTES = 2000
    data = image_bytes(200, 200, "PNG", color=(1, 2, 3))
    big = io.BytesIO()
    Image.effect_noise((200, 200), 64).save(big, "PNG")
    assert len(big.getvalue()) > 2000 >= len(data)
    assert_refused(requester, big.getvalue(), "2000 bytes")


def test_refuses_a_decompression_bomb_without_decoding_it(requester):
    bomb = io.BytesIO()
    Image.new("1", (20_000, 20_000)).save(bomb, "PNG")  # 400 Mpx, a few kB on disk
    assert len(bomb.getvalue()) < 200_000
    started = time.monotonic()
    assert_refused(requester, bomb.getvalue(), "pixels")
    assert time.monotonic() - started < 2  # refused from the header, not by decoding


def test_refuses_too_many_pixels_per_setting(requester, settings):
    settings.ASSET_MAX_PIXELS = 100 * 100
    assert_refused(requester, image_bytes(101, 100), "the limit is 10000 pixels")
    assert upload(requester, image_bytes(100, 100)).width == 100


def test_refuses_truncated_image(requester):
    data = io.BytesIO()
    Image.effect_noise((300, 300), 50).convert("RGB").save(data, "JPEG")
    assert_refused(requester, data.getvalue()[: len(data.getvalue()) // 2], "corrupt or truncated")


def test_exif_rotation_swaps_recorded_size(requester):
    image = Image.new("RGB", (120, 60), (200, 10, 10))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° when shown
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif)
    asset = upload(requester, buffer.getvalue(), "rotated.jpg")
    assert (asset.width, asset.height) == (60, 120)


def test_media_is_served_to_signed_in_users_only(client, requester, labeler, media_root):
    asset = upload(requester, image_bytes(50, 40))
    url = f"/media/{asset.file.name}"
    assert client.get(url).status_code == 302  # to the login page
    client.force_login(labeler)
    response = client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert b"".join(response.streaming_content) == (media_root / asset.file.name).read_bytes()
    assert client.get("/media/../settings.py").status_code == 404
    assert client.get("/media/assets/00/" + "0" * 64 + ".png").status_code == 404


def test_thumbnails_are_made_on_demand(client, requester, media_root):
    from assets.media import thumbnail_url

    asset = upload(requester, image_bytes(800, 400))
    client.force_login(requester)
    response = client.get(thumbnail_url(asset.file.name, 160))
    assert response.status_code == 200
    thumb = Image.open(io.BytesIO(b"".join(response.streaming_content)))
    assert thumb.size == (160, 80)
    assert client.get(thumbnail_url(asset.file.name, 161)).status_code == 404
