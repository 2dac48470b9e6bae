"""Which dash a page prints in its ranges ("3.5 – 5.1" or "3.5 - 5.1"), decided from all of them at once.

The recogniser has separate classes for the hyphen and the en dash, but one en dash alone is a
close call: on en-dash pages the model put 0.58-0.99 of a step's probability on the hyphen. Read one
by one, some of a page's ranges came out with each dash. Its evidence is still informative: the
odds p(en dash) / p(hyphen) stay orders of magnitude higher on en dashes than on hyphens of the
same font. A report sets all its ranges alike, so the odds of every range on the page are pooled
(median), and when they show en dashes every range gets one. Glyph width alone cannot decide
it: Courier's hyphen is as wide, relative to its digits, as DejaVu Sans's en dash (docs/ocr.md).
"""
from __future__ import annotations

import re
import statistics
from typing import Sequence

from .recogniser import DASHES, Reading

# A range: two numbers joined by one dash, standing alone (not part of a date, a code, a word or a
# telephone number such as 010-2000).
RANGE = re.compile(r"(?<![\w.,\-\u2013/:])(?!0\d)\d+(?:[.,]\d+)?\s*([-\u2013])\s*\d+(?:[.,]\d+)?(?![\w.,\-\u2013/:])")
MIN_RANGES = 3  # fewer ranges than this on a page: each keeps the model's own reading
# Page median of log10 p(en dash)/p(hyphen) from which the page prints en dashes. Measured over 144
# pages (Helvetica, Times, Courier, DejaVu Sans at 8.5 and 10.5 pt; "-", " - " and " – " ranges; clean,
# 150 dpi, noise and blur, skew, JPEG q25, phone photo):
# hyphen pages -5.3 to -1.93; en-dash pages -2.3 to 1.1, above -1.6 on every clean, 150-dpi, JPEG
# and skewed page in a proportional font; Courier's en dashes and noisy pages mostly stay below.
EN_DASH_ODDS = -1.6


def settle_range_dashes(readings: Sequence[Reading]) -> list[str]:
    """The readings' texts, every range's dash an en dash when the page's ranges together show one.

    Otherwise each keeps the model's own reading: the model almost never reads a hyphen as an en
    dash, so a single en dash it did read is kept even on a page that leans to hyphens."""
    texts = [reading.text for reading in readings]
    found = []  # (reading index, position of the dash in its text, odds)
    for index, reading in enumerate(readings):
        if len(reading.dash_odds) != sum(reading.text.count(d) for d in DASHES):
            continue  # no evidence for this reading (another recogniser)
        for match in RANGE.finditer(reading.text):
            position = match.start(1)
            nth = sum(reading.text[:position].count(d) for d in DASHES)
            found.append((index, position, reading.dash_odds[nth]))
    if len(found) < MIN_RANGES:
        return texts
    if statistics.median(odds for _, _, odds in found) < EN_DASH_ODDS:
        return texts
    for index, position, _ in found:
        text = texts[index]
        texts[index] = text[:position] + DASHES[1] + text[position + 1:]
    return texts
