"""Generated demo images: blue and red books on varied backgrounds.

Pure Pillow and numpy (no Django), so the demo, the tests and the benchmarks
can all use it. Everything is deterministic: the same arguments give the same
pixels, hence the same PNG bytes (``png_bytes``), so seeding the demo twice
stores each image once, and a test can regenerate what the demo stored.

A *box* is the wire format of ``assets.wire.Box`` as a dict,
``{"x_min", "y_min", "x_max", "y_max"}``, ratios of the image in 0..1: the
axis-aligned bounding box of one book's drawn shape.

Main entry points
-----------------
``book_scene(seed, width, height, blue=None, red=None) -> (image, blue_boxes)``
    Books scattered on a background, none overlapping: by default 0-3 blue
    and 1-3 red. ``blue_boxes`` are the regions a correct "color in all the
    blue books" answer colors in (``[]`` when there is no blue book).
``scatter_scene`` / ``stack_scene`` / ``row_scene``
    The same as a ``Scene`` (the books, ``blue_boxes()``/``red_boxes()``, and
    ``render()`` for the image); stacks and rows sit on a shelf or table edge.
``PROMPTS`` and ``prompt_pair(key, seed, width, height)``
    Text prompts about books ("A small blue book sitting on a large red
    book.") and, for each, an image that follows it and one that does not,
    with the same background and size, so the right answer is clear.
``layout_pair(seed, width, height, right, wrong)``
    Any two layouts rendered as such a pair (e.g. ``("scatter", 3, 1)``
    against ``("scatter", 1, 2)``: which image shows more blue books?).
``png_bytes(image)``
    The PNG encoding the demo stores.

Colors: blue books have hues 205-230 degrees, saturation >= 0.62; red books
hues 352-5 degrees. Nothing else in an image is saturated blue (the "cool
wall" background is a blue-grey of saturation < 0.2), so "saturated blue
pixels" are exactly the blue books' pixels.
"""

from __future__ import annotations

import colorsys
import io
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

BLUE = "blue"
RED = "red"
COLORS = (BLUE, RED)

SMALL, MEDIUM, LARGE = "small", "medium", "large"
LYING, STANDING = "lying", "standing"

# Image sizes the demo cycles through (width, height): landscape and portrait.
SIZES: tuple[tuple[int, int], ...] = ((640, 480), (800, 600), (600, 800), (720, 480), (480, 640), (800, 520))

STYLES = ("shelf", "wall", "cool_wall", "desk")

_SUPERSAMPLE = 2  # books are drawn at twice the size, then averaged down (anti-aliasing)

Seed = int | str
Box = dict[str, float]


# --- Books -------------------------------------------------------------------------


@dataclass(frozen=True)
class Book:
    """A book drawn as a rotated rectangle, in pixels of the final image.

    ``length`` runs along the book's own x axis, ``thickness`` along its y
    axis; ``angle`` rotates it counter-clockwise (0: long side horizontal,
    90: standing upright). ``label`` draws a title label on the cover.
    """

    color: str
    cx: float
    cy: float
    length: float
    thickness: float
    angle: float
    rgb: tuple[int, int, int]
    label: bool = False

    def to_image(self, u: float, v: float) -> tuple[float, float]:
        """A point in book coordinates (origin at the center) in image pixels."""
        a = math.radians(self.angle)
        return (self.cx + u * math.cos(a) + v * math.sin(a), self.cy - u * math.sin(a) + v * math.cos(a))

    def quad(self, u0: float, v0: float, u1: float, v1: float) -> list[tuple[float, float]]:
        return [self.to_image(u0, v0), self.to_image(u1, v0), self.to_image(u1, v1), self.to_image(u0, v1)]

    def corners(self) -> list[tuple[float, float]]:
        half_l, half_t = self.length / 2, self.thickness / 2
        return self.quad(-half_l, -half_t, half_l, half_t)

    def extent(self) -> tuple[float, float, float, float]:
        """(x0, y0, x1, y1): the pixel bounding box of the book's shape."""
        xs, ys = zip(*self.corners())
        return min(xs), min(ys), max(xs), max(ys)

    def box(self, width: int, height: int) -> Box:
        """The bounding box as ratios of a ``width`` x ``height`` image,
        rounded outwards to 4 decimals and clipped to the image."""
        x0, y0, x1, y1 = self.extent()
        return {
            "x_min": max(0.0, math.floor(x0 / width * 1e4) / 1e4),
            "y_min": max(0.0, math.floor(y0 / height * 1e4) / 1e4),
            "x_max": min(1.0, math.ceil(x1 / width * 1e4) / 1e4),
            "y_max": min(1.0, math.ceil(y1 / height * 1e4) / 1e4),
        }


def book_rgb(rng: random.Random, color: str) -> tuple[int, int, int]:
    """A cover color: a saturated blue or red, in varied shades."""
    if color == BLUE:
        hue, sat, val = rng.uniform(205, 230), rng.uniform(0.62, 0.92), rng.uniform(0.55, 0.9)
    elif color == RED:
        hue, sat, val = rng.uniform(-8, 5) % 360, rng.uniform(0.68, 0.9), rng.uniform(0.6, 0.88)
    else:
        raise ValueError(f"color must be {BLUE!r} or {RED!r}, got {color!r}")
    return _hsv(hue, sat, val)


def _hsv(hue: float, sat: float, val: float) -> tuple[int, int, int]:
    r, g, b = colorsys.hsv_to_rgb(hue / 360.0, sat, val)
    return round(r * 255), round(g * 255), round(b * 255)


def _shade(rgb: tuple[int, int, int], factor: float) -> tuple[int, int, int]:
    return tuple(max(0, min(255, round(c * factor))) for c in rgb)  # type: ignore[return-value]


# --- Scenes ------------------------------------------------------------------------


@dataclass(frozen=True)
class Scene:
    """Books on a background; ``render()`` draws it (deterministically)."""

    seed: Seed
    width: int
    height: int
    style: str
    books: tuple[Book, ...]
    surface: float | None = None  # y (pixels) of the shelf or table edge books rest on

    def boxes(self, color: str) -> list[Box]:
        return [book.box(self.width, self.height) for book in self.books if book.color == color]

    def blue_boxes(self) -> list[Box]:
        """Regions of the blue books: the truth of "color in all the blue books"."""
        return self.boxes(BLUE)

    def red_boxes(self) -> list[Box]:
        return self.boxes(RED)

    def count(self, color: str) -> int:
        return sum(1 for book in self.books if book.color == color)

    def render(self) -> Image.Image:
        return _render(self)


def _rng(*parts: object) -> random.Random:
    # A str seed goes through SHA-512: stable across runs and PYTHONHASHSEED.
    return random.Random("/".join(map(str, parts)))


def _check_size(width: int, height: int) -> None:
    if not (isinstance(width, int) and isinstance(height, int)) or not (64 <= width <= 4096 and 64 <= height <= 4096):
        raise ValueError(f"width and height must be integers in 64..4096, got {width}x{height}")


def _pick_style(seed: Seed, style: str | None) -> str:
    if style is None:
        return _rng("style", seed).choice(STYLES)
    if style not in STYLES:
        raise ValueError(f"style must be one of {', '.join(STYLES)}, got {style!r}")
    return style


def scatter_scene(
    seed: Seed, width: int, height: int, *, blue: int | None = None, red: int | None = None, style: str | None = None
) -> Scene:
    """``blue`` blue and ``red`` red books (default: 0-3 and 1-3, from the
    seed) at random sizes, angles and places, with gaps between them."""
    _check_size(width, height)
    rng = _rng("scatter", seed, width, height)
    blue = rng.randint(0, 3) if blue is None else blue
    red = rng.randint(1, 3) if red is None else red
    if not (0 <= blue <= 8 and 0 <= red <= 8 and blue + red <= 10):
        raise ValueError(f"want 0-8 books of each color (10 in all), got blue={blue}, red={red}")
    colors = [BLUE] * blue + [RED] * red
    rng.shuffle(colors)
    base = min(width, height)
    margin, gap = 0.03 * base, 0.035 * base
    crowd = 1.0 if len(colors) <= 3 else 0.85 if len(colors) <= 5 else 0.7
    placed: list[Book] = []
    for color in colors:
        rgb = book_rgb(rng, color)
        length = base * rng.uniform(0.24, 0.40) * crowd
        thickness = length * rng.uniform(0.45, 0.72)
        pose = rng.random()
        angle = (
            rng.uniform(-15, 15)
            if pose < 0.45
            else 90 + rng.uniform(-12, 12)
            if pose < 0.8
            else rng.choice((-1, 1)) * rng.uniform(20, 38)
        )
        label = rng.random() < 0.5
        while True:
            book = _place(
                rng, width, height, margin, gap, placed, Book(color, 0, 0, length, thickness, angle, rgb, label)
            )
            if book is not None:
                placed.append(book)
                break
            length, thickness = length * 0.9, thickness * 0.9  # crowded: try a smaller book
    return Scene(seed, width, height, _pick_style(seed, style), tuple(placed))


def _place(
    rng: random.Random, width: int, height: int, margin: float, gap: float, placed: Sequence[Book], book: Book
) -> Book | None:
    x0, y0, x1, y1 = book.extent()  # centered at (0, 0)
    low_x, high_x = margin - x0, width - margin - x1
    low_y, high_y = margin - y0, height - margin - y1
    if low_x > high_x or low_y > high_y:
        return None
    others = [b.extent() for b in placed]
    for _ in range(200):
        candidate = replace(book, cx=rng.uniform(low_x, high_x), cy=rng.uniform(low_y, high_y))
        cx0, cy0, cx1, cy1 = candidate.extent()
        if all(
            cx1 + gap < ox0 or ox1 + gap < cx0 or cy1 + gap < oy0 or oy1 + gap < cy0 for ox0, oy0, ox1, oy1 in others
        ):
            return candidate
    return None


_STACK_LENGTH = {SMALL: 0.30, MEDIUM: 0.42, LARGE: 0.58}
_STACK_THICKNESS = {SMALL: 0.075, MEDIUM: 0.09, LARGE: 0.105}
_STANDING_HEIGHT = {SMALL: 0.34, MEDIUM: 0.46, LARGE: 0.62}
_STANDING_WIDTH = {SMALL: 0.09, MEDIUM: 0.11, LARGE: 0.14}


def _surface(seed: Seed, width: int, height: int) -> float:
    """Where the shelf or table edge is: the same for every layout of one seed
    and size, so the two images of a compare pair share their background."""
    return height * _rng("surface", seed, width, height).uniform(0.74, 0.84)


def stack_scene(
    seed: Seed, width: int, height: int, books: Sequence[tuple[str, str]], *, style: str | None = None
) -> Scene:
    """Books lying flat in a stack on a shelf or table, ``books`` listed
    bottom to top as ``(color, size)`` with size small | medium | large.

    Placement depends on the seed and the sizes only, so two stacks of the same
    sizes in different colors line up exactly."""
    _check_size(width, height)
    rng = _rng("stack", seed, width, height)
    base = min(width, height)
    surface = _surface(seed, width, height)
    center = width * rng.uniform(0.4, 0.6)
    top = surface
    placed: list[Book] = []
    below_length = None
    for index, (color, size) in enumerate(books):
        length = base * _STACK_LENGTH[size] * rng.uniform(0.95, 1.05)
        thickness = base * _STACK_THICKNESS[size] * rng.uniform(0.9, 1.1)
        if below_length is not None:  # rest on the book below, overhanging at most a little
            slack = max(0.0, (below_length - length) / 2) + 0.06 * length
            center += rng.uniform(-slack, slack) * 0.8
        angle = rng.uniform(-1.2, 1.2)
        colors_rng = _rng("stack-color", seed, index, color)
        placed.append(
            Book(color, center, top - thickness / 2, length, thickness, angle, book_rgb(colors_rng, color), label=False)
        )
        top -= thickness
        below_length = length
    return Scene(seed, width, height, _pick_style(seed, style), tuple(placed), surface=surface)


def row_scene(
    seed: Seed, width: int, height: int, books: Sequence[tuple[str, str, str]], *, style: str | None = None
) -> Scene:
    """Books side by side on a shelf or table, ``books`` listed left to right
    as ``(color, size, pose)`` with pose standing | lying."""
    _check_size(width, height)
    rng = _rng("row", seed, width, height)
    base = min(width, height)
    surface = _surface(seed, width, height)
    shapes = []
    for color, size, pose in books:
        if pose == STANDING:
            length, thickness = base * _STANDING_HEIGHT[size], base * _STANDING_WIDTH[size]
            angle = 90 + rng.uniform(-3, 3)
            footprint = thickness
        elif pose == LYING:
            length, thickness = base * _STACK_LENGTH[size], base * _STACK_THICKNESS[size] * 1.4
            angle = rng.uniform(-1.2, 1.2)
            footprint = length
        else:
            raise ValueError(f"pose must be {STANDING!r} or {LYING!r}, got {pose!r}")
        shapes.append((color, length, thickness, angle, footprint))
    gaps = [width * rng.uniform(0.05, 0.1) for _ in shapes[1:]]
    total = sum(s[4] for s in shapes) + sum(gaps)
    scale = min(1.0, 0.86 * width / total)
    left = (width - total * scale) * rng.uniform(0.3, 0.7)
    placed = []
    for index, (color, length, thickness, angle, footprint) in enumerate(shapes):
        length, thickness, footprint = length * scale, thickness * scale, footprint * scale
        rise = length if abs(angle - 90) < 45 else thickness
        colors_rng = _rng("row-color", seed, index, color)
        placed.append(
            Book(
                color,
                left + footprint / 2,
                surface - rise / 2,
                length,
                thickness,
                angle,
                book_rgb(colors_rng, color),
                label=False,
            )
        )
        left += footprint + (gaps[index] * scale if index < len(gaps) else 0)
    return Scene(seed, width, height, _pick_style(seed, style), tuple(placed), surface=surface)


def book_scene(
    seed: Seed,
    width: int = 640,
    height: int = 480,
    *,
    blue: int | None = None,
    red: int | None = None,
    style: str | None = None,
) -> tuple[Image.Image, list[Box]]:
    """A rendered scatter scene and the boxes of its blue books.

    >>> image, boxes = book_scene(7, 800, 600, blue=2, red=1)
    >>> image.size, len(boxes)
    ((800, 600), 2)
    """
    scene = scatter_scene(seed, width, height, blue=blue, red=red, style=style)
    return scene.render(), scene.blue_boxes()


# --- Rendering ---------------------------------------------------------------------


def _lowfreq(rng: np.random.Generator, width: int, height: int, cell: int) -> np.ndarray:
    """Smooth noise in -1..1 (a coarse random grid, bicubic-upsampled)."""
    grid = rng.uniform(-1, 1, (height // cell + 3, width // cell + 3)).astype(np.float32)
    image = Image.fromarray(grid, mode="F").resize((width, height), Image.Resampling.BICUBIC)
    return np.asarray(image, dtype=np.float32)


def _background(scene: Scene, rng: random.Random, nrng: np.random.Generator) -> np.ndarray:
    w, h = scene.width, scene.height
    ys = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    xs = np.linspace(0, 1, w, dtype=np.float32)[None, :, None]
    style = scene.style
    if style in ("shelf", "desk"):
        base = np.array(
            _hsv(
                rng.uniform(22, 36),
                rng.uniform(0.35, 0.6),
                rng.uniform(0.45, 0.72) if style == "shelf" else rng.uniform(0.6, 0.82),
            ),
            np.float32,
        )
        light = 1.08 - 0.22 * (ys if rng.random() < 0.5 else 1 - ys) + 0.06 * (xs - 0.5)
        # Wood grain: wavy streaks, mostly horizontal.
        phase = _lowfreq(nrng, w, h, 96)[:, :, None] * 3.0
        grain = np.sin(ys * rng.uniform(60, 140) + phase) * rng.uniform(0.03, 0.06)
        image = base * (light + grain)
    else:
        if style == "wall":
            base = np.array(
                _hsv(
                    rng.choice((rng.uniform(30, 50), rng.uniform(80, 120), rng.uniform(0, 360))),
                    rng.uniform(0.05, 0.22),
                    rng.uniform(0.7, 0.9),
                ),
                np.float32,
            )
        else:  # cool_wall: a blue-grey that is not book blue
            base = np.array(_hsv(rng.uniform(200, 225), rng.uniform(0.08, 0.16), rng.uniform(0.62, 0.85)), np.float32)
        angle = rng.uniform(0, 2 * math.pi)
        ramp = (xs - 0.5) * math.cos(angle) + (ys - 0.5) * math.sin(angle)
        image = base * (1.0 + 0.25 * ramp)
    image = image * (1.0 + 0.05 * _lowfreq(nrng, w, h, 48)[:, :, None])  # blotches
    image = np.broadcast_to(image, (h, w, 3)).copy()
    canvas = Image.fromarray(np.clip(image, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(canvas)
    wood = _hsv(rng.uniform(20, 34), rng.uniform(0.45, 0.65), rng.uniform(0.35, 0.55))
    if scene.surface is not None:  # a shelf board or table edge the books rest on
        top = round(scene.surface)
        depth = max(6, round(0.06 * h))
        draw.rectangle((0, top, w, top + depth), fill=wood)
        draw.line((0, top, w, top), fill=_shade(wood, 1.35), width=max(1, h // 240))
        draw.rectangle((0, top + depth, w, top + depth + max(2, h // 120)), fill=_shade(wood, 0.55))
    elif style == "shelf":  # empty shelf boards behind the scattered books
        for _ in range(rng.randint(1, 3)):
            top = round(h * rng.uniform(0.15, 0.9))
            depth = max(4, round(h * rng.uniform(0.02, 0.04)))
            draw.rectangle((0, top, w, top + depth), fill=_shade(wood, 1.1))
            draw.line((0, top + depth, w, top + depth), fill=_shade(wood, 0.5), width=max(2, h // 200))
    if style == "desk" and scene.surface is None:  # sheets of paper and a mug, as distractors
        for _ in range(rng.randint(1, 3)):
            sheet = _rectangle(
                rng.uniform(0, w), rng.uniform(0, h), 0.3 * min(w, h), 0.21 * min(w, h), rng.uniform(-40, 40)
            )
            draw.polygon(sheet, fill=_hsv(rng.uniform(40, 60), rng.uniform(0.02, 0.12), 0.95))
        r = 0.05 * min(w, h)
        mx, my = rng.uniform(r, w - r), rng.uniform(r, h - r)
        mug = _hsv(rng.choice((50, 110, 30)), rng.uniform(0.0, 0.5), rng.uniform(0.3, 0.9))
        draw.ellipse((mx - r, my - r, mx + r, my + r), fill=mug, outline=_shade(mug, 0.7), width=3)
    return np.asarray(canvas, dtype=np.float32)


def _rectangle(cx: float, cy: float, width: float, height: float, angle: float) -> list[tuple[float, float]]:
    """Corners of a ``width`` x ``height`` rectangle centered on (cx, cy), rotated by ``angle`` degrees."""
    a = math.radians(angle)
    cos, sin = math.cos(a), math.sin(a)
    return [
        (cx + u * cos + v * sin, cy - u * sin + v * cos)
        for u, v in (
            (-width / 2, -height / 2),
            (width / 2, -height / 2),
            (width / 2, height / 2),
            (-width / 2, height / 2),
        )
    ]


def _draw_book(draw: ImageDraw.ImageDraw, book: Book, scale: float) -> None:
    """The cover, a darker spine band and line, a page edge and (sometimes) a label."""
    b = replace(
        book, cx=book.cx * scale, cy=book.cy * scale, length=book.length * scale, thickness=book.thickness * scale
    )
    half_l, half_t = b.length / 2, b.thickness / 2
    line = max(1, round(scale * max(1.0, min(book.length, book.thickness) * 0.02)))
    draw.polygon(b.corners(), fill=book.rgb)
    spine = b.thickness * 0.16
    draw.polygon(b.quad(-half_l, -half_t, half_l, -half_t + spine), fill=_shade(book.rgb, 0.72))
    draw.line(
        [b.to_image(-half_l, -half_t + spine), b.to_image(half_l, -half_t + spine)],
        fill=_shade(book.rgb, 0.5),
        width=line,
    )
    # Page edge: a cream strip inset from the other long side, with page lines.
    page_out, page_in = half_t - b.thickness * 0.035, half_t - b.thickness * 0.14
    inset = b.length * 0.025
    draw.polygon(b.quad(-half_l + inset, page_in, half_l - inset, page_out), fill=(236, 228, 208))
    for t in (0.35, 0.7):
        v = page_in + (page_out - page_in) * t
        draw.line(
            [b.to_image(-half_l + inset, v), b.to_image(half_l - inset, v)],
            fill=(190, 182, 165),
            width=max(1, line // 2),
        )
    if book.label:
        draw.polygon(
            b.quad(-b.length * 0.22, -b.thickness * 0.12, b.length * 0.12, b.thickness * 0.12), fill=(232, 214, 150)
        )
    draw.polygon(b.corners(), outline=_shade(book.rgb, 0.55), width=line)


def _render(scene: Scene) -> Image.Image:
    rng = _rng("render", scene.seed, scene.width, scene.height, scene.style)
    nrng = np.random.default_rng(rng.getrandbits(64))
    background = _background(scene, rng, nrng)
    w, h = scene.width, scene.height
    # Soft drop shadows on the background only (never on a book).
    shadow = Image.new("L", (w, h), 0)
    sdraw = ImageDraw.Draw(shadow)
    offset = 0.012 * min(w, h)
    for book in scene.books:
        sdraw.polygon(replace(book, cx=book.cx + offset, cy=book.cy + offset).corners(), fill=255)
    shadow = shadow.filter(ImageFilter.GaussianBlur(offset))
    background *= 1.0 - 0.4 * (np.asarray(shadow, np.float32)[:, :, None] / 255.0)
    canvas = Image.fromarray(np.clip(background, 0, 255).astype(np.uint8), "RGB")
    big = canvas.resize((w * _SUPERSAMPLE, h * _SUPERSAMPLE), Image.Resampling.NEAREST)
    draw = ImageDraw.Draw(big)
    for book in scene.books:
        _draw_book(draw, book, _SUPERSAMPLE)
    canvas = big.resize((w, h), Image.Resampling.BOX)
    # Film grain: luminance noise on 2x2 cells (it keeps the PNGs small).
    grain = nrng.normal(0, 3.0, ((h + 1) // 2, (w + 1) // 2)).astype(np.float32)
    grain = np.repeat(np.repeat(grain, 2, axis=0), 2, axis=1)[:h, :w, None]
    pixels = np.asarray(canvas, np.float32) + grain
    return Image.fromarray(np.clip(np.rint(pixels), 0, 255).astype(np.uint8), "RGB")


def png_bytes(image: Image.Image) -> bytes:
    """The image as PNG bytes (deterministic for the same pixels)."""
    buffer = io.BytesIO()
    image.save(buffer, "PNG", compress_level=2)  # fast; a demo image is ~300 kB
    return buffer.getvalue()


# --- Prompts for compare tasks -------------------------------------------------------------

Layout = tuple  # ("stack", books) | ("row", books) | ("scatter", blue, red)


@dataclass(frozen=True)
class PromptSpec:
    """A prompt, a layout that follows it and one that does not, and why."""

    key: str
    prompt: str
    right: Layout
    wrong: Layout
    explanation: str


def _layout_scene(layout: Layout, seed: Seed, width: int, height: int, style: str) -> Scene:
    kind = layout[0]
    if kind == "stack":
        return stack_scene(seed, width, height, layout[1], style=style)
    if kind == "row":
        return row_scene(seed, width, height, layout[1], style=style)
    if kind == "scatter":
        return scatter_scene(seed, width, height, blue=layout[1], red=layout[2], style=style)
    raise ValueError(f"unknown layout {kind!r}")


R, B = RED, BLUE
PROMPTS: tuple[PromptSpec, ...] = (
    PromptSpec(
        "small-blue-on-large-red",
        "A small blue book sitting on a large red book.",
        ("stack", ((R, LARGE), (B, SMALL))),
        ("stack", ((B, LARGE), (R, SMALL))),
        "The small book on top must be blue and the large one under it red; "
        "the other image has the colors the other way round.",
    ),
    PromptSpec(
        "large-blue-under-small-red",
        "A large blue book lying under a small red book.",
        ("stack", ((B, LARGE), (R, SMALL))),
        ("stack", ((R, LARGE), (B, SMALL))),
        "The large book at the bottom must be blue and the small one on top red; the other image swaps the colors.",
    ),
    PromptSpec(
        "blue-left-of-red",
        "A blue book to the left of a red book.",
        ("row", ((B, MEDIUM, STANDING), (R, MEDIUM, STANDING))),
        ("row", ((R, MEDIUM, STANDING), (B, MEDIUM, STANDING))),
        "The blue book has to be on the left; in the other image it is on the right.",
    ),
    PromptSpec(
        "three-blue-standing",
        "Three blue books standing side by side.",
        ("row", ((B, MEDIUM, STANDING), (B, LARGE, STANDING), (B, MEDIUM, STANDING))),
        ("row", ((B, MEDIUM, STANDING), (R, LARGE, STANDING), (B, MEDIUM, STANDING))),
        "All three books must be blue; the other image has a red book in the middle.",
    ),
    PromptSpec(
        "two-red-no-blue",
        "Two red books and no blue book.",
        ("scatter", 0, 2),
        ("scatter", 1, 2),
        "The right image has exactly two red books and nothing blue; the other also shows a blue book.",
    ),
    PromptSpec(
        "red-red-blue-stack",
        "A stack of three books: two red books with a blue book on top.",
        ("stack", ((R, LARGE), (R, MEDIUM), (B, MEDIUM))),
        ("stack", ((R, LARGE), (B, MEDIUM), (R, MEDIUM))),
        "The blue book must be at the top of the stack; in the other image it is in the middle.",
    ),
    PromptSpec(
        "large-red-beside-small-blue",
        "A large red book standing next to a small blue book.",
        ("row", ((R, LARGE, STANDING), (B, SMALL, STANDING))),
        ("row", ((R, SMALL, STANDING), (B, LARGE, STANDING))),
        "The red book must be the large one; in the other image the red book is small and the blue large.",
    ),
    PromptSpec(
        "blue-between-red",
        "One blue book standing between two red books.",
        ("row", ((R, MEDIUM, STANDING), (B, MEDIUM, STANDING), (R, MEDIUM, STANDING))),
        ("row", ((B, MEDIUM, STANDING), (R, MEDIUM, STANDING), (B, MEDIUM, STANDING))),
        "One blue book in the middle of two red ones; the other image has it the other way round.",
    ),
    PromptSpec(
        "two-blue-stacked",
        "Two blue books stacked on top of each other.",
        ("stack", ((B, LARGE), (B, MEDIUM))),
        ("row", ((B, MEDIUM, LYING), (B, MEDIUM, LYING))),
        "The blue books must be stacked; in the other image they lie side by side.",
    ),
    PromptSpec(
        "single-red",
        "A single red book, with no other books.",
        ("scatter", 0, 1),
        ("scatter", 0, 3),
        "Only one book may be shown; the other image has three red books.",
    ),
    PromptSpec(
        "blue-lying-red-standing",
        "A blue book lying flat next to a red book standing upright.",
        ("row", ((B, MEDIUM, LYING), (R, MEDIUM, STANDING))),
        ("row", ((B, MEDIUM, STANDING), (R, MEDIUM, LYING))),
        "The blue book must lie flat and the red one stand; the other image has the poses swapped.",
    ),
    PromptSpec(
        "alternating-stack",
        "Four books stacked, alternating blue and red, with blue at the bottom.",
        ("stack", ((B, LARGE), (R, LARGE), (B, MEDIUM), (R, MEDIUM))),
        ("stack", ((R, LARGE), (B, LARGE), (R, MEDIUM), (B, MEDIUM))),
        "The bottom book must be blue; the other image starts with a red book at the bottom.",
    ),
)
PROMPTS_BY_KEY = {spec.key: spec for spec in PROMPTS}


@dataclass(frozen=True)
class ComparePair:
    """Two images for one prompt: ``right`` follows it, ``wrong`` does not."""

    prompt: str
    right: Image.Image
    wrong: Image.Image
    right_scene: Scene
    wrong_scene: Scene
    explanation: str


def layout_pair(
    seed: Seed, width: int, height: int, right: Layout, wrong: Layout, *, style: str | None = None
) -> tuple[Scene, Scene]:
    """Two scenes with the same background, size and (where the layouts
    allow) placement, differing only in their books."""
    style = _pick_style(seed, style)
    return (_layout_scene(right, seed, width, height, style), _layout_scene(wrong, seed, width, height, style))


def prompt_pair(key: str, seed: Seed, width: int = 640, height: int = 480, *, style: str | None = None) -> ComparePair:
    """The images for the prompt ``key`` (see ``PROMPTS``)."""
    spec = PROMPTS_BY_KEY[key]
    right, wrong = layout_pair(seed, width, height, spec.right, spec.wrong, style=style)
    return ComparePair(spec.prompt, right.render(), wrong.render(), right, wrong, spec.explanation)
