"""How a page prints its ranges ("3.5 – 5.1", "3.5 - 5.1", "3.5-5.1"), decided from all of them at once.

The recogniser has separate classes for the hyphen and the en dash, but one en dash alone is a
close call: on en-dash pages the model put 0.58-0.99 of a step's probability on the hyphen. Read one
by one, some of a page's ranges came out with each dash. Its evidence is still informative: the
odds p(en dash) / p(hyphen) stay orders of magnitude higher on en dashes than on hyphens of the
same font. A report sets all its ranges alike, so the odds of every range on the page are pooled
(median), and when they show en dashes every range gets one. Glyph width alone cannot decide
it: Courier's hyphen is as wide, relative to its digits, as DejaVu Sans's en dash (docs/ocr.md).
The spaces either side of the dash are settled the same way, from the model's space probabilities.
"""
from __future__ import annotations

import re
import statistics
from typing import Sequence

from .recogniser import DASHES, Reading

# A range: two numbers joined by one dash, standing alone (not part of a date, a code, a word or a
# telephone number such as 010-2000).
RANGE = re.compile(
    r"(?<![\w.,\-\u2013/:])(?!0\d)(\d+(?:[.,]\d+)?)(\s*)([-\u2013])(\s*)(\d+(?:[.,]\d+)?)(?![\w.,\-\u2013/:])"
)
MIN_RANGES = 3  # fewer ranges than this on a page: each keeps the model's own reading
# Page median of log10 p(en dash)/p(hyphen) from which the page prints en dashes. Measured over 144
# pages (Helvetica, Times, Courier, DejaVu Sans at 8.5 and 10.5 pt; "-", " - " and " – " ranges; clean,
# 150 dpi, noise and blur, skew, JPEG q25, phone photo):
# hyphen pages -5.3 to -1.93; en-dash pages -2.3 to 1.1, above -1.6 on every clean, 150-dpi, JPEG
# and skewed page in a proportional font; Courier's en dashes and noisy pages mostly stay below.
EN_DASH_ODDS = -1.6
# Page median of log10 p(space) on either side of the dashes, same 144 pages: pages printing "a - b"
# -1.72 to -0.01, pages printing "a-b" -5.0 to -1.91. A space alone is a closer call: on spaced
# pages 5 % of the sides read without one, on unspaced pages 5 % with one. Between the two bounds
# each range keeps the spaces the model read.
SPACED_FROM = -1.5
UNSPACED_BELOW = -2.2
# The page settles close calls, never a confident reading: an en dash or a space is not put where the
# model's own evidence for it is below this. An identifier such as "25-210498" on a page of spaced
# ranges read -5.6 for an en dash and -7.1 / -7.7 for the spaces; single en dashes and spaces on
# the pages that print them read -2.6 and up.
OWN_EVIDENCE_FLOOR = -4.0


def settle_range_dashes(readings: Sequence[Reading]) -> list[str]:
    """The readings' texts with every range's dash and spaces set the way the page's ranges together show.

    A report prints all its ranges alike ("3,5 – 5,1" throughout, or "70-99" throughout), so the
    model's evidence is pooled over the page: every range gets an en dash when the en-dash odds say
    so, else keeps the dash the model read (it practically never reads a hyphen as an en dash); the
    spaces around the dash are set when the space evidence is clear one way or the other."""
    texts = [reading.text for reading in readings]
    found = []  # (reading index, match, the dash's evidence)
    for index, reading in enumerate(readings):
        if len(reading.dashes) != sum(reading.text.count(d) for d in DASHES):
            continue  # no evidence for this reading (another recogniser)
        for match in RANGE.finditer(reading.text):
            nth = sum(reading.text[:match.start(3)].count(d) for d in DASHES)
            found.append((index, match, reading.dashes[nth]))
    if len(found) < MIN_RANGES:
        return texts
    en_dash = statistics.median(dash.en_dash_odds for *_, dash in found) >= EN_DASH_ODDS
    space = statistics.median(side for *_, dash in found for side in (dash.space_before, dash.space_after))
    spacing = " " if space >= SPACED_FROM else "" if space < UNSPACED_BELOW else None
    for index, match, evidence in reversed(found):  # from the end of each text, so earlier positions hold
        low, before, dash, after, high = match.groups()
        if en_dash and evidence.en_dash_odds >= OWN_EVIDENCE_FLOOR:
            dash = DASHES[1]
        if spacing == "":
            before = after = ""
        elif spacing == " ":
            before = " " if evidence.space_before >= OWN_EVIDENCE_FLOOR else before
            after = " " if evidence.space_after >= OWN_EVIDENCE_FLOOR else after
        text = texts[index]
        texts[index] = text[:match.start()] + low + before + dash + after + high + text[match.end():]
    return texts
