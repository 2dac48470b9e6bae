"""Flatten a curved page (a book binding, a fold, a sagging sheet) by the curvature of its text lines.

A 4-corner page outline (straighten.warp_quad) only undoes perspective; a bent sheet also bends its
text lines, and the detector then merges two lines into one box. Printed text lines are straight and
level on the paper, so their measured slope everywhere on the photo is the page's distortion:
  1. words: the ink (rules removed) closed sideways into word and phrase blobs, each with the slope
     of its baseline (descenders below and hyphens above ignored) and its half-width as weight;
  2. a slope field s(x, y): a low-order polynomial over the page, fitted to the blobs' slopes by
     weighted least squares with a small ridge, outliers (a blob spanning two lines, a stamp)
     dropped and refitted;
  3. the vertical displacement of each point, g(x, y) = integral of s along x from the page's middle;
  4. applied only when g bends a row of text by more than 0.6 of a letter height (a flat scan is
     left pixel-identical), by cv2.remap: output (x, y) takes input (x, y + g(x, y)), so every text
     line comes out level; a remainder left by the first fit is measured and composed into the
     same remap.
Only vertical displacement is modelled: lines are what the detector and row grouping need level.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

WORK_SIDE = 1600  # analysis resolution: text lines ~10 px high, far enough apart to stay separate
MIN_BLOBS = 12  # fewer words than this is no evidence of a page's shape
MIN_WORD = 3.0  # letters: a blob narrower than this says little about its slope
# slope field: up to quadratic across the page (a binding's kink) and down it; fewer terms for fewer words
DEGREES = ((2, 2), (2, 1), (1, 1), (1, 0), (0, 0))
BLOBS_PER_TERM = 6
APPLY_SHARE = 0.6  # displacement, as a share of the text height, above which the page is flattened
REFINE_SHARE = 0.25  # ...and above which a flattened page is flattened once more
PASSES = 2
MAX_SLOPE = 0.2  # a blob steeper than ~11 degrees is not a text line (skew is removed before)
RIDGE = 100.0  # px per unit of a slope term: a term of 0.03 costs as much as one word 3 px off at its ends


@dataclass
class Curvature:
    """The fitted distortion, in full-resolution pixels."""

    coefficients: np.ndarray  # slope field over normalised (u, v) in [-1, 1]
    terms: list[tuple[int, int]]  # the powers (a, b) of u^a v^b, one per coefficient
    width: int
    height: int
    text_box: tuple[int, int, int, int]  # x0, y0, x1, y1 of the measured words
    text_height: float  # median word height
    blobs: int
    spans: list[tuple[float, float, float]] = field(default_factory=list)  # text rows: x0, x1, y

    def displacement(self, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        """g(x, y): how far below its level position the text at (x, y) sits."""
        # beyond the measured words the field is held at its edge value, never extrapolated
        x0, y0, x1, y1 = self.text_box
        u = _normalise(np.clip(xs, x0, x1), self.width)
        v = _normalise(np.clip(ys, y0, y1), self.height)
        total = np.zeros_like(u, dtype=np.float64)
        for (a, b), c in zip(self.terms, self.coefficients):
            # integral over u of c u^a v^b from 0, back in pixels (du = 2 dx / width)
            total += c * (u ** (a + 1)) / (a + 1) * (v ** b)
        # past the words' ends a line carries on at the slope it had there
        edge_slope = self.slope(np.clip(xs, x0, x1), np.clip(ys, y0, y1))
        return total * self.width / 2 + edge_slope * (xs - np.clip(xs, x0, x1))

    def slope(self, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        u, v = _normalise(xs, self.width), _normalise(ys, self.height)
        return sum(c * (u ** a) * (v ** b) for (a, b), c in zip(self.terms, self.coefficients))

    def largest_shift(self) -> float:
        """How far the field bends a measured text line from level, at most (where there is no text the
        field is free, and a page is not flattened for that)."""
        if not self.spans:
            return 0.0
        spans = np.array(self.spans, dtype=np.float64)
        along = np.linspace(0.0, 1.0, 12)
        xs = spans[:, :1] + (spans[:, 1:2] - spans[:, :1]) * along
        shift = self.displacement(xs, np.repeat(spans[:, 2:3], len(along), axis=1))
        return float(np.max(shift.max(axis=1) - shift.min(axis=1)))

    @property
    def needed(self) -> bool:
        return self.blobs >= MIN_BLOBS and self.largest_shift() > APPLY_SHARE * self.text_height


def _terms(x_degree: int, y_degree: int) -> list[tuple[int, int]]:
    return [(a, b) for a in range(x_degree + 1) for b in range(y_degree + 1)]


def _normalise(values: np.ndarray, size: int) -> np.ndarray:
    return np.asarray(values, dtype=np.float64) * 2 / size - 1


def word_blobs(gray: np.ndarray) -> tuple[np.ndarray, float]:
    """Rows of (x0, x1, y, slope) for the word blobs of a work copy (y: the blob's baseline at its
    centre), and the median letter height."""
    _, ink = cv2.threshold(gray, 0, 1, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    length = max(25, max(ink.shape) // 30)
    rules = cv2.morphologyEx(ink, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (length, 1)))
    rules |= cv2.morphologyEx(ink, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (1, length)))
    ink = ink & (1 - cv2.dilate(rules, np.ones((3, 3), np.uint8)))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(ink)
    heights = stats[1:count, cv2.CC_STAT_HEIGHT]
    letters = heights[(heights >= 4) & (heights <= max(ink.shape) // 40)]
    if len(letters) < MIN_BLOBS:
        return np.zeros((0, 4)), 0.0
    letter = float(np.median(letters))
    # close the gaps between letters and single spaces, never the gap between two lines
    closing = cv2.getStructuringElement(cv2.MORPH_RECT, (int(letter * 1.2) | 1, 1))
    words = cv2.morphologyEx(ink, cv2.MORPH_CLOSE, closing)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(words)
    rows = []
    for index in range(1, count):
        x, y, w, h, _ = stats[index]
        if w < MIN_WORD * letter or not 0.6 * letter <= h <= 2.6 * letter:
            continue  # a short number (its glyphs tilt its baseline), a speck, or a tall blob spanning lines
        mask = labels[y:y + h, x:x + w] == index
        columns = np.nonzero(mask.any(axis=0))[0]
        if len(columns) < 3:
            continue
        # the baseline: most letters and digits stand on it; descenders (g, p, a comma) hang below, a
        # hyphen or a caret floats above. A median slope over column pairs half a blob apart and the
        # median offset ignore both; a least-squares fit on the columns near that line refines it.
        bottoms = (h - 1 - mask[::-1].argmax(axis=0)[columns]).astype(np.float64)
        along = columns.astype(np.float64) - w / 2
        half = len(columns) // 2
        slope = float(np.median((bottoms[half:half * 2] - bottoms[:half]) / (along[half:half * 2] - along[:half])))
        offset = float(np.median(bottoms - slope * along))
        standing = np.abs(bottoms - slope * along - offset) <= max(1.0, 0.1 * letter)
        if standing.sum() >= 3:
            slope, offset = np.polyfit(along[standing], bottoms[standing], 1)
        if abs(slope) > MAX_SLOPE:
            continue
        rows.append((float(x), float(x + w), y + float(offset), float(slope)))
    return np.array(rows, dtype=np.float64).reshape(-1, 4), letter


def _choose_terms(evidence: int) -> list[tuple[int, int]]:
    return next(_terms(*d) for d in DEGREES if len(_terms(*d)) * BLOBS_PER_TERM <= evidence or d == DEGREES[-1])


def fit_slopes(blobs: np.ndarray, width: int, height: int, factor: float
               ) -> tuple[np.ndarray, list[tuple[int, int]], np.ndarray] | None:
    """The slope field s(x, y) from the blobs' baseline slopes, by least squares. A blob's equation
    is weighed by its half-width, so its residual is the height error at its ends in pixels: a long
    phrase pins the slope down far better than a short number. Blobs that disagree with the page (two
    lines merged, a stamp, an italic note) are dropped and the fit made again; a term the text does not
    pin down (no words where it would bend) stays near 0."""
    u = _normalise((blobs[:, 0] + blobs[:, 1]) / 2 / factor, width)
    v = _normalise(blobs[:, 2] / factor, height)
    weight = (blobs[:, 1] - blobs[:, 0]) / 2 / factor
    keep = np.ones(len(blobs), dtype=bool)
    for _ in range(3):
        if keep.sum() < MIN_BLOBS:
            return None
        terms = _choose_terms(int(keep.sum()))
        design = np.stack([(u ** a) * (v ** b) for a, b in terms], axis=1)
        rows = np.vstack([design[keep] * weight[keep, None], np.eye(len(terms)) * RIDGE])
        target = np.concatenate([blobs[keep, 3] * weight[keep], np.zeros(len(terms))])
        coefficients, *_ = np.linalg.lstsq(rows, target, rcond=None)
        residual = np.abs(design @ coefficients - blobs[:, 3]) * weight
        spread = 1.4826 * np.median(residual[keep]) + 0.5 / factor
        keep = residual <= 3 * spread
    return coefficients, terms, keep


def text_rows(blobs: np.ndarray, letter: float, factor: float) -> list[tuple[float, float, float]]:
    """(x0, x1, y) of the page's text, band by band a letter high: where a bend would move text."""
    spans = []
    for top in np.arange(blobs[:, 2].min(), blobs[:, 2].max() + letter, letter):
        inside = blobs[(blobs[:, 2] >= top) & (blobs[:, 2] < top + letter)]
        if len(inside):
            spans.append((inside[:, 0].min() / factor, inside[:, 1].max() / factor, (top + letter / 2) / factor))
    return spans


def measure(gray: np.ndarray) -> Curvature | None:
    """The page's curvature from its words' baselines, or None when there are too few words to tell."""
    height, width = gray.shape[:2]
    factor = min(1.0, WORK_SIDE / max(height, width))
    small = cv2.resize(gray, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA) if factor < 1 else gray
    blobs, letter = word_blobs(small)
    if len(blobs) < MIN_BLOBS:
        return None
    fitted = fit_slopes(blobs, width, height, factor)
    if fitted is None:
        return None
    coefficients, terms, keep = fitted
    used = blobs[keep]
    box = (int(used[:, 0].min() / factor), int(used[:, 2].min() / factor),
           int(used[:, 1].max() / factor), int(used[:, 2].max() / factor))
    return Curvature(coefficients, terms, width, height, box, letter / factor, int(keep.sum()),
                     text_rows(used, letter, factor))


def flatten(image: np.ndarray, curvatures: list[Curvature]) -> np.ndarray:
    """Remap so every text line is level: output (x, y) takes input (x, y + g(x, y)). Several fields
    (a first fit, then what was left of the bend) are composed into one remap, so the page is
    interpolated once and small print is not blurred twice."""
    height, width = image.shape[:2]
    step = 8  # the field is smooth: compute it on a coarse grid, interpolate to every pixel
    xs, ys = np.meshgrid(np.linspace(0, width - 1, max(2, width // step)),
                         np.linspace(0, height - 1, max(2, height // step)))
    source = ys
    for curvature in reversed(curvatures):  # the last field applied is the first one undone
        shift = curvature.displacement(xs, source)
        source = source + curvature.displacement(xs, source + shift)  # g evaluated where the text came from
    shift = cv2.resize((source - ys).astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
    map_x, map_y = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    return cv2.remap(image, map_x, map_y + shift, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def dewarp(image: np.ndarray, gray: np.ndarray) -> tuple[np.ndarray, np.ndarray, Curvature | None]:
    """(image, gray, first curvature applied or None): the page flattened when its text lines bend.
    A strong bend is measured again once flattened: the fit's pull towards level leaves a remainder."""
    curvature = measure(gray)
    if curvature is None or not curvature.needed:
        return image, gray, None
    fields = [curvature]
    for _ in range(PASSES - 1):
        left = measure(flatten(gray, fields))
        if left is None or left.largest_shift() <= REFINE_SHARE * left.text_height:
            break
        fields.append(left)
    return flatten(image, fields), flatten(gray, fields), fields[0]
