"""Rasterizing draw responses and boxes onto a grid.

One grid serves grading (qualification and gold answers) and aggregation: its
long side has ``long_side`` cells (settings.RASTER_LONG_SIDE, 256 by default)
and its short side follows the image's aspect ratio. A cell is inked when the
brush (a disc of diameter ``size * grid width``, round caps and joins) covers
it, as Pillow draws it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from PIL import Image, ImageDraw

from assets.wire import Box


def grid_shape(width: int | None, height: int | None, long_side: int) -> tuple[int, int]:
    """(rows, cols) of the grid for an image of ``width`` x ``height`` pixels.

    Images of unknown size (URL and text assets) get a square grid.
    """
    if not width or not height:
        return long_side, long_side
    if width >= height:
        return max(1, round(long_side * height / width)), long_side
    return long_side, max(1, round(long_side * width / height))


def rasterize_lines(lines: Sequence[dict], shape: tuple[int, int]) -> np.ndarray:
    """Boolean mask (rows x cols) of the cells covered by the strokes."""
    rows, cols = shape
    canvas = Image.new("L", (cols, rows), 0)
    if lines:
        draw = ImageDraw.Draw(canvas)
        for line in lines:
            diameter = max(1.0, float(line["size"]) * cols)
            radius = diameter / 2.0
            points = [(p["x"] * cols, p["y"] * rows) for p in line["points"]]
            if len(points) > 1:
                draw.line(points, fill=255, width=max(1, round(diameter)), joint="curve")
            # Round caps (and the dot of a single-point line).
            for x, y in (points[0], points[-1]):
                draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=255)
    return np.asarray(canvas, dtype=np.uint8) > 0


def box_cells(box: Box, shape: tuple[int, int]) -> tuple[slice, slice]:
    """The grid cells a box touches, as (row slice, column slice)."""
    rows, cols = shape
    r0 = min(rows - 1, int(np.floor(box.y_min * rows)))
    c0 = min(cols - 1, int(np.floor(box.x_min * cols)))
    r1 = max(r0 + 1, int(np.ceil(box.y_max * rows)))
    c1 = max(c0 + 1, int(np.ceil(box.x_max * cols)))
    return slice(r0, min(rows, r1)), slice(c0, min(cols, c1))


def boxes_mask(boxes: Iterable[Box], shape: tuple[int, int]) -> np.ndarray:
    mask = np.zeros(shape, dtype=bool)
    for box in boxes:
        mask[box_cells(box, shape)] = True
    return mask
