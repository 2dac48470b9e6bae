"""A second look at regions the recogniser was unsure of, cropped with the margins it was trained on.

The detector's boxes hug the ink. For a word that is fine; for a lone symbol they leave the
recogniser a crop with no paper above or below, and it guesses: Courier's `%` at 150 dpi read as `0`
(confidence 0.33) in its detected box, and as `%` (0.77) with margins of 0.3 of its height above and
below and 0.8 to each side. Every region read with less than `UNSURE` confidence is read again that
way, its margins stopping short of the neighbouring regions, and the second reading replaces the
first when it is surer and more likely right than not (at least `ACCEPT`). Cleaning the crop up
(blur, median, contrast stretch, non-local means) was tried and not kept: a noisy Courier `%` then
read as a confident `8`.
"""
from __future__ import annotations

from ingestion.document import Box

from .recogniser import Reading

UNSURE = 0.8
ACCEPT = 0.5
SIDE_MARGIN = 0.8  # of the region's height, left and right
TOP_MARGIN = 0.3  # of the region's height, above and below


def unsure(readings: list[Reading]) -> list[int]:
    return [index for index, reading in enumerate(readings) if reading.confidence < UNSURE]


def with_margins(box: Box, others: list[Box], width: float, height: float,
                 side: float = SIDE_MARGIN, top: float = TOP_MARGIN) -> Box:
    """`box` grown by margins relative to its height, never into another box nor off the page."""
    x0, y0, x1, y1 = box
    h = y1 - y0
    left, right, up, down = (
        max(0.0, x0 - side * h),
        min(width, x1 + side * h),
        max(0.0, y0 - top * h),
        min(height, y1 + top * h),
    )
    for bx0, by0, bx1, by1 in others:
        if (bx0, by0, bx1, by1) == box:
            continue
        if min(y1, by1) > max(y0, by0):  # beside it, on the same row
            if bx1 <= x0:
                left = max(left, bx1)
            elif bx0 >= x1:
                right = min(right, bx0)
        elif min(x1, bx1) > max(x0, bx0):  # above or below it
            if by1 <= y0:
                up = max(up, by1)
            elif by0 >= y1:
                down = min(down, by0)
    return (left, up, right, down)
