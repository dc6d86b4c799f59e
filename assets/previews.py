"""How assets look in the admin: thumbnails with their boxes drawn over them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.template.loader import render_to_string
from django.utils.safestring import SafeString

from . import wire
from .media import thumbnail_url
from .models import Asset

THUMBNAIL_SIZE = 160


LARGE_THUMBNAIL_SIZE = 320


@dataclass
class Shown:
    """An asset to show, with the boxes to draw over it and a caption."""

    asset: Asset
    boxes: Sequence[wire.Box] = field(default_factory=tuple)
    caption: str = ""
    marked: bool = False


def _image_src(asset: Asset, size: int) -> str:
    if asset.kind == Asset.Kind.IMAGE:
        return thumbnail_url(asset.file.name, size)
    if asset.kind == Asset.Kind.URL and asset.url.lower().startswith(("http://", "https://")):
        return asset.url
    return ""


def _box_style(box: wire.Box) -> dict[str, str]:
    """A box as CSS percentages of the image it is drawn over."""

    def percent(ratio: float) -> str:
        return f"{ratio * 100:.2f}"

    return {
        "left": percent(box.x_min),
        "top": percent(box.y_min),
        "width": percent(box.x_max - box.x_min),
        "height": percent(box.y_max - box.y_min),
    }


def assets_preview(shown: Iterable[Shown], *, size: int = THUMBNAIL_SIZE) -> SafeString:
    """Assets side by side: images as lazy-loaded thumbnails (an <img> of the
    URL for URL assets) with their boxes drawn over them, texts as escaped
    text. Everything a user typed is escaped by the template."""
    items = []
    for item in shown:
        src = _image_src(item.asset, size)
        items.append(
            {
                "src": src,
                "alt": item.asset.value[:200],
                "text": "" if src else item.asset.value,
                "boxes": [_box_style(box) for box in item.boxes] if src else [],
                "caption": item.caption,
                "marked": item.marked,
            }
        )
    return render_to_string("admin/crowdcanvas/items.html", {"items": items, "size": size})
