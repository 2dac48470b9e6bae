"""Marks the detector missed: small glyphs standing alone on a text row, such as a lone `-` flag.

The detector sees the page at most 960 px on its long side, where a 9-pt hyphen is a 3 x 1 px smear
that scores below any usable box threshold: on the European `+`/`-` flag layout every `-` flag was
lost (5 rows a page) while `+` was found. Detection at full resolution takes twice as long
(docs/ocr.md), so instead the page itself (at half size from about 200 dpi up) is searched for ink
that no detected box covers and that sits alone on a row the detector did find; each such mark is
cropped at the row's height and read by the same recogniser. A mark is kept only when its whole
connected ink lies outside every detected box (a character the detector clipped is never read as a
separate word) and the recogniser is sure of it.
"""
from __future__ import annotations

import cv2
import numpy as np

from ingestion.document import Box

from .reread import with_margins

MIN_CONFIDENCE = 0.8  # of the recogniser, for a mark to become a word
MAX_MARKS = 64  # per page; more loose ink than this is a picture or a stamp, not missed text


def missed_marks(gray: np.ndarray, boxes: list[Box]) -> list[Box]:
    """Boxes (page pixels, the row's height) around ink outside every detected box, on a detected row."""
    if not boxes:
        return []
    heights = sorted(y1 - y0 for _, y0, _, y1 in boxes)
    # Searched at half size when text is at least 32 px high (about 200 dpi and up): a 9-pt hyphen is
    # still 5 x 2 px there, as on a 150-dpi page, at a quarter of the labelling time.
    scale = 2 if heights[len(heights) // 2] >= 32 else 1
    if scale > 1:
        gray = cv2.resize(gray, (gray.shape[1] // scale, gray.shape[0] // scale), interpolation=cv2.INTER_AREA)
        boxes = [(x0 / scale, y0 / scale, x1 / scale, y1 / scale) for x0, y0, x1, y1 in boxes]
    marks = _marks(gray, boxes, heights[len(heights) // 2] / scale)
    return [(x0 * scale, y0 * scale, x1 * scale, y1 * scale) for x0, y0, x1, y1 in marks]


def _marks(gray: np.ndarray, boxes: list[Box], text_height: float) -> list[Box]:
    ink = _ink(gray)
    covered = np.zeros(ink.shape, dtype=bool)
    pad = max(1, round(0.05 * text_height))
    for x0, y0, x1, y1 in boxes:
        covered[max(0, int(y0) - pad):int(np.ceil(y1)) + pad, max(0, int(x0) - pad):int(np.ceil(x1)) + pad] = True
    ink[covered] = 0  # what is left is sparse, which the labelling below is quick on
    count, labels, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    x, y, w, h, area = stats.T
    # A glyph's size: not a speck, not a ruling line, not a logo.
    glyph = ((h <= 1.2 * text_height) & (w <= 2.0 * text_height) & (np.maximum(w, h) >= 0.15 * text_height)
             & (area >= 4))
    glyph[0] = False  # the background
    candidates = []
    for label in np.flatnonzero(glyph):
        x0, y0, x1, y1 = int(x[label]), int(y[label]), int(x[label] + w[label]), int(y[label] + h[label])
        if covered[max(0, y0 - 1):y1 + 1, max(0, x0 - 1):x1 + 1].any():
            continue  # the rest of a character the detector clipped, never a word of its own
        box = (float(x0), float(y0), float(x1), float(y1))
        row = _row_of(y[label] + h[label] / 2, int(h[label]), boxes)
        if row is not None:
            candidates.append((box, row))
    height, width = gray.shape
    # blank margins (a glyph touching the crop's edge reads badly), stopping short of the words beside it
    marks = [with_margins(mark, boxes, width, height, side=0.3 * text_height / (mark[3] - mark[1]), top=0)
             for mark in _merge_neighbours(candidates, text_height)]
    return marks if len(marks) <= MAX_MARKS else []


def _ink(gray: np.ndarray) -> np.ndarray:
    """Dark pixels (Otsu's threshold between paper and ink) as a 0/1 image, after a 3 x 3 blur that
    removes a noisy scan's specks and closes the pinholes that break a thin stroke into pieces."""
    gray = cv2.GaussianBlur(gray, (3, 3), 0)
    threshold, _ = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    return (gray <= threshold).astype(np.uint8)


def _row_of(centre_y: float, height: int, boxes: list[Box]) -> Box | None:
    """The detected box whose row band holds this ink: its centre in the band's middle, no taller than the band."""
    best = None
    for box in boxes:
        _, y0, _, y1 = box
        band = y1 - y0
        if y0 + 0.2 * band <= centre_y <= y1 - 0.2 * band and height <= band:
            if best is None or abs((y0 + y1) / 2 - centre_y) < abs((best[1] + best[3]) / 2 - centre_y):
                best = box
    return best


def _merge_neighbours(candidates: list[tuple[Box, Box]], text_height: float) -> list[Box]:
    """Ink of one mark (`++`, `*H`) on one row joined; each mark spans its row's height, with a margin."""
    marks: list[list[float]] = []
    for (x0, y0, x1, y1), row in sorted(candidates, key=lambda c: (c[1][1], c[0][0])):
        top, bottom = min(y0, row[1]), max(y1, row[3])
        last = marks[-1] if marks else None
        if last is not None and last[4] == row[1] and x0 - last[2] < 0.5 * text_height:
            last[2], last[1], last[3] = max(last[2], x1), min(last[1], top), max(last[3], bottom)
        else:
            marks.append([x0, top, x1, bottom, row[1]])
    return [(x0, y0, x1, y1) for x0, y0, x1, y1, _ in marks]

