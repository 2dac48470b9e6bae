"""A quarter turn is made only on the recogniser's evidence.

The ink's projection profile (straighten.estimate_orientation) proposes a quarter turn or none. It is
cheap and usually right, but monospaced printouts with columns of short lines (dotted leaders,
`25-OH VITAMIN D ........ 93.9`) make a sharp profile sideways too, and some sideways pages look
level. So the recogniser decides:
  - a proposed quarter turn: the middle of the page is read both ways, and the page is turned only
    when the turned reading is clearly better (more text read surely, on horizontal lines);
  - no turn proposed, but the page read gives almost no sure text: the page is read turned as well,
    and the turned reading kept only when it is clearly better.
An upright page that reads well is never turned, and reads no more than once.
"""
from __future__ import annotations

import numpy as np

from ingestion.document import Line

from .engines.base import OcrEngine
from .straighten import Straightened, straighten

CLEARLY = 1.5  # the turned reading must score this many times the other one
MIN_EVIDENCE = 20.0  # ...and by at least this many surely read characters
POOR_READING = 40.0  # a page read with less sure text than this may be sideways


def reading_score(lines: list[Line]) -> float:
    """Characters read on horizontal lines, each weighed by the recogniser's confidence (sure ones only)."""
    score = 0.0
    for line in lines:
        x0, y0, x1, y1 = line.box
        if line.confidence >= 0.6 and (x1 - x0) >= 1.5 * (y1 - y0):
            score += line.confidence * len(line.text.strip())
    return score


def clearly_better(score: float, than: float) -> bool:
    return score >= CLEARLY * than and score - than >= MIN_EVIDENCE


def sample(image: np.ndarray) -> np.ndarray:
    """The middle half of the page's height, its whole width: where results sit, at half the cost."""
    height = image.shape[0]
    return np.ascontiguousarray(image[height // 4: height * 3 // 4])


def upright_reading(image: np.ndarray, engine: OcrEngine) -> tuple[Straightened, list[Line]]:
    """The page straightened (turned only on evidence) and its lines as the engine read them."""
    proposed = straighten(image)
    if proposed.rotation in (90, 270):
        unturned = straighten(image, quarters=(0,))
        if not clearly_better(reading_score(engine.read(sample(proposed.image))),
                              reading_score(engine.read(sample(unturned.image)))):
            proposed = unturned
        return proposed, engine.read(proposed.image)
    lines = engine.read(proposed.image)
    score = reading_score(lines)
    if score < POOR_READING:
        turned = straighten(image, quarters=(90,))
        turned_lines = engine.read(turned.image)
        if clearly_better(reading_score(turned_lines), score):
            return turned, turned_lines
    return proposed, lines
