"""Flatten a curved page (a book binding, a fold, a sagging sheet) by the curvature of its text lines.

A 4-corner page outline (straighten.warp_quad) only undoes perspective; a bent sheet also bends its
text lines, and the detector then merges two lines into one box. Printed text lines are straight and
level on the paper, so their measured slope everywhere on the photo is the page's distortion:
  1. words: the ink (rules removed) closed sideways into word and phrase blobs, each with its local
     slope (a line through the middle of its top and bottom edges) and its length as weight;
  2. a slope field s(x, y): a low-order polynomial over the page, fitted to the blobs' slopes by
     weighted least squares, outliers (a blob spanning two lines, a stamp) dropped and refitted;
  3. the vertical displacement of each point, g(x, y) = integral of s along x from the page's middle;
  4. applied only when the text moves by more than a fraction of a line height somewhere on the
     text block (a flat scan is left pixel-identical), by cv2.remap: output (x, y) takes input
     (x, y + g(x, y)), so every text line comes out level and straight.
Only vertical displacement is modelled: lines are what the detector and row grouping need level.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

WORK_SIDE = 1600  # analysis resolution: text lines ~10 px high, far enough apart to stay separate
MIN_BLOBS = 12  # fewer words than this is no evidence of a page's shape
# slope field: up to quadratic across the page (a binding's kink) and down it; fewer terms for fewer words
DEGREES = ((2, 2), (2, 1), (1, 1), (1, 0), (0, 0))
LINES_PER_TERM = 3
APPLY_SHARE = 0.35  # displacement, as a share of the text height, above which the page is flattened
MAX_SLOPE = 0.2  # a blob steeper than ~11 degrees is not a text line (skew is removed before)
MAX_GAP = 30  # letters: the widest gap between two cells of one table row


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
        x0, y0, x1, y1 = self.text_box
        xs, ys = np.meshgrid(np.linspace(x0, x1, 24), np.linspace(y0, y1, 24))
        shift = self.displacement(xs, ys)
        # a shift that is the same along each line is no bend; what matters is how far a line departs from level
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
        if w < 1.5 * letter or not 0.6 * letter <= h <= 2.6 * letter:
            continue  # a speck, or a tall blob that spans lines
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


def _field_columns(xs: np.ndarray, ys: np.ndarray, terms: list[tuple[int, int]], width: int, height: int
                   ) -> np.ndarray:
    """Per point and term, the displacement a unit coefficient makes (the slope term integrated along x)."""
    u, v = _normalise(xs, width), _normalise(ys, height)
    return np.stack([(u ** (a + 1)) / (a + 1) * (v ** b) * width / 2 for a, b in terms], axis=-1)


def _choose_terms(evidence: int, per_term: int) -> list[tuple[int, int]]:
    return next(_terms(*d) for d in DEGREES if len(_terms(*d)) * per_term <= evidence or d == DEGREES[-1])


def first_guess(blobs: np.ndarray, width: int, height: int, factor: float, letter: float
                ) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """The slope field from the long blobs' own slopes (weighted by length squared: a short word's
    slope is skewed by its ascenders); only good enough to chain blobs into lines."""
    long = blobs[blobs[:, 1] - blobs[:, 0] >= 4 * letter]
    terms = _choose_terms(len(long), 6)
    if len(long) < MIN_BLOBS:
        return np.zeros(1), _terms(0, 0)
    u = _normalise((long[:, 0] + long[:, 1]) / 2 / factor, width)
    v = _normalise(long[:, 2] / factor, height)
    design = np.stack([(u ** a) * (v ** b) for a, b in terms], axis=1)
    weight = (long[:, 1] - long[:, 0]) / letter
    coefficients, *_ = np.linalg.lstsq(design * weight[:, None], long[:, 3] * weight, rcond=None)
    return coefficients, terms


def text_lines(blobs: np.ndarray, letter: float, shift) -> list[list[int]]:
    """Blobs chained left to right into text lines: the next blob starts where the line, carried on
    along the field so far (`shift(x, y)`: work-copy displacement), arrives within half a letter."""
    lines: list[list[int]] = []
    ends: list[tuple[float, float]] = []  # per line: right end x, y there
    for index in np.argsort(blobs[:, 0]):
        x0, x1, y, slope = blobs[index]
        centre = (x0 + x1) / 2
        best, best_miss = None, None
        for number, (end_x, end_y) in enumerate(ends):
            gap = x0 - end_x
            if not -0.5 * letter <= gap <= MAX_GAP * letter:
                continue
            arrives = end_y + shift(centre, end_y) - shift(end_x, end_y)
            miss = abs(arrives - y)
            if miss <= 0.5 * letter + 0.01 * gap and (best_miss is None or miss < best_miss):
                best, best_miss = number, miss
        end = (x1, y + shift(x1, y) - shift(centre, y))
        if best is None:
            lines.append([int(index)])
            ends.append(end)
        else:
            lines[best].append(int(index))
            ends[best] = end
    return lines


def line_points(blobs: np.ndarray, lines: list[list[int]], letter: float) -> tuple[np.ndarray, np.ndarray]:
    """Points (x, y) on the lines' middles, work-copy pixels, and the line each belongs to: a blob's
    centre, or for a long blob its two halves' centres, on its own slope."""
    points, line_of = [], []
    for number, line in enumerate(lines):
        for index in line:
            x0, x1, y, slope = blobs[index]
            centre, half = (x0 + x1) / 2, (x1 - x0) / 2
            for x in ((centre,) if half < 4 * letter else (centre - half / 2, centre + half / 2)):
                points.append((x, y + slope * (x - centre)))
                line_of.append(number)
    return np.array(points, dtype=np.float64).reshape(-1, 2), np.array(line_of, dtype=int)


def fit_lines(points: np.ndarray, line_of: np.ndarray, lines: int, width: int, height: int, scale: float
              ) -> tuple[np.ndarray, list[tuple[int, int]], np.ndarray] | None:
    """Each line i is level on the paper at its own height f_i; its point (x, y) on the photo sits at
    f_i + g(x, y). The f_i and the field's coefficients in one least-squares fit, points that disagree
    (two lines merged into one chain, a stamp) dropped and the fit made again."""
    xs, ys = points[:, 0] / scale, points[:, 1] / scale
    offsets = np.zeros((len(points), lines))
    offsets[np.arange(len(points)), line_of] = 1.0
    keep = np.ones(len(points), dtype=bool)
    for _ in range(3):
        spanned = sum(1 for n in range(lines) if keep[line_of == n].sum() >= 2)
        if keep.sum() < MIN_BLOBS or spanned < 3:
            return None
        terms = _choose_terms(spanned, LINES_PER_TERM)
        design = np.hstack([_field_columns(xs, ys, terms, width, height), offsets])
        solution, *_ = np.linalg.lstsq(design[keep], ys[keep], rcond=None)
        residual = np.abs(design @ solution - ys)
        spread = 1.4826 * np.median(residual[keep]) + 0.5 / scale
        keep = residual <= 3 * spread
    return solution[:len(terms)], terms, keep


def measure(gray: np.ndarray) -> Curvature | None:
    """The page's curvature from its text lines, or None when there are too few words to tell."""
    height, width = gray.shape[:2]
    factor = min(1.0, WORK_SIDE / max(height, width))
    small = cv2.resize(gray, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA) if factor < 1 else gray
    blobs, letter = word_blobs(small)
    if len(blobs) < MIN_BLOBS:
        return None
    coefficients, terms = first_guess(blobs, width, height, factor, letter)
    fitted = None
    for _ in range(2):  # chain along the guess, fit; chain again along the fit, fit again
        def shift(x, y, c=coefficients, t=terms):
            return float(_field_columns(np.array(x / factor), np.array(y / factor), t, width, height) @ c) * factor
        lines = text_lines(blobs, letter, shift)
        points, line_of = line_points(blobs, lines, letter)
        fitted = fit_lines(points, line_of, len(lines), width, height, factor) if len(points) else None
        if fitted is None:
            return None
        coefficients, terms, keep = fitted
    ys = points[keep, 1] / factor
    used = blobs[[index for line in lines for index in line]]
    box = (int(used[:, 0].min() / factor), int(ys.min()), int(used[:, 1].max() / factor), int(ys.max()))
    return Curvature(coefficients, terms, width, height, box, letter / factor, int(keep.sum()))


def flatten(image: np.ndarray, curvature: Curvature) -> np.ndarray:
    """Remap so every text line is level: output (x, y) takes input (x, y + g(x, y))."""
    height, width = image.shape[:2]
    step = 8  # the field is smooth: compute it on a coarse grid, interpolate to every pixel
    xs, ys = np.meshgrid(np.linspace(0, width - 1, max(2, width // step)),
                         np.linspace(0, height - 1, max(2, height // step)))
    shift = curvature.displacement(xs, ys)
    shift = curvature.displacement(xs, ys + shift)  # the text at output y came from y + g: evaluate g there
    shift = cv2.resize(shift.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
    map_x, map_y = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    return cv2.remap(image, map_x, map_y + shift, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def dewarp(image: np.ndarray, gray: np.ndarray) -> tuple[np.ndarray, np.ndarray, Curvature | None]:
    """(image, gray, curvature applied or None): the page flattened when its text lines bend."""
    curvature = measure(gray)
    if curvature is None or not curvature.needed:
        return image, gray, None
    return flatten(image, curvature), flatten(gray, curvature), curvature
