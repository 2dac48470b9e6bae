"""Between detection and recognition: crop each detected region, split long ones, batch by width.

Why not PaddleOCR's own loop: its recogniser (an SVTR-style network) costs more than linearly in
crop width, and PaddleOCR pads every crop of a batch to the widest one. A page's footer sentence
batched with fifteen table cells cost 5-7 s of a 10 s page here. Splitting regions wider than
`MAX_RATIO` heights at blank columns, and batching crops of similar width, keeps a page near 1 s.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ingestion.document import Box

MAX_RATIO = 12  # width/height of the widest crop sent to the recogniser
MIN_GAP_RATIO = 0.3  # a blank run at least this many heights wide is a word gap where we may cut
MAX_BATCH_AREA = 16 * 48 * 320  # recogniser input pixels per batch (at 48 px high)


@dataclass
class Crop:
    box: Box  # page pixels
    image: np.ndarray  # RGB


def crops_from_polygons(image: np.ndarray, polygons: np.ndarray) -> list[Crop]:
    """Axis-aligned crops (the page is already deskewed), split at word gaps when too wide."""
    height, width = image.shape[:2]
    crops = []
    for polygon in polygons:
        xs, ys = polygon[:, 0], polygon[:, 1]
        x0, y0 = max(0, int(xs.min())), max(0, int(ys.min()))
        x1, y1 = min(width, int(np.ceil(xs.max()))), min(height, int(np.ceil(ys.max())))
        if x1 - x0 < 2 or y1 - y0 < 2:
            continue
        crops += split_wide(Crop((float(x0), float(y0), float(x1), float(y1)), image[y0:y1, x0:x1]))
    return crops


def crops_from_boxes(image: np.ndarray, boxes: list[Box]) -> list[Crop]:
    """Crops of axis-aligned boxes (missed marks), clipped to the page; never split."""
    height, width = image.shape[:2]
    crops = []
    for bx0, by0, bx1, by1 in boxes:
        x0, y0 = max(0, int(bx0)), max(0, int(by0))
        x1, y1 = min(width, int(np.ceil(bx1))), min(height, int(np.ceil(by1)))
        if x1 - x0 >= 2 and y1 - y0 >= 2:
            crops.append(Crop((float(x0), float(y0), float(x1), float(y1)), image[y0:y1, x0:x1]))
    return crops


def split_wide(crop: Crop) -> list[Crop]:
    height, width = crop.image.shape[:2]
    if width <= MAX_RATIO * height:
        return [crop]
    gray = crop.image.mean(axis=2)
    ink = (gray < (gray.max() + gray.min()) / 2).sum(axis=0)
    blank = ink <= max(1, height // 20)
    cut = _best_gap(blank, lo=int(0.3 * width), hi=int(0.7 * width), min_run=int(MIN_GAP_RATIO * height))
    if cut is None:
        return [crop]  # no word gap: recognise it whole rather than cut through letters
    x0, y0, x1, y1 = crop.box
    left = Crop((x0, y0, x0 + cut, y1), crop.image[:, :cut])
    right = Crop((x0 + cut, y0, x1, y1), crop.image[:, cut:])
    return split_wide(left) + split_wide(right)


def _best_gap(blank: np.ndarray, *, lo: int, hi: int, min_run: int) -> int | None:
    """Middle of the widest blank run inside [lo, hi), if it is at least min_run wide."""
    best, start = None, None
    for x in range(lo, hi + 1):
        if x < hi and blank[x]:
            start = x if start is None else start
        elif start is not None:
            if x - start >= min_run and (best is None or x - start > best[1] - best[0]):
                best = (start, x)
            start = None
    return None if best is None else (best[0] + best[1]) // 2


def width_batches(crops: list[Crop], *, min_width: int, height: int = 48) -> list[list[int]]:
    """Indices of crops grouped so that each batch holds similar widths and a bounded input size."""
    ratios = [c.image.shape[1] / max(c.image.shape[0], 1) for c in crops]
    order = sorted(range(len(crops)), key=ratios.__getitem__)
    batches: list[list[int]] = []
    for index in order:
        width = max(ratios[index], min_width / height) * height
        if batches and (len(batches[-1]) + 1) * width <= MAX_BATCH_AREA / height:
            batches[-1].append(index)  # sorted, so this crop is the widest of its batch
        else:
            batches.append([index])
    return batches
