"""Make a page image upright, flat and evenly lit before OCR.

Stages, in order, each cheap next to OCR (they work on a copy at most ~1000 px on its long side):
  1. scale: cap the long side (a 12 MP phone photo carries no more text than a 300-dpi page);
  2. dewarp: a page photographed on a darker background -> the largest 4-corner contour, warped flat;
  3. flatten light: divide by a blurred background estimate when lighting is uneven (shadows);
  4. orientation and skew: the projection profile of the ink is sharpest when text lines run
     horizontally; searched over small angles around 0 and 90 degrees;
  5. curved page: text lines that still bend are flattened by their measured curvature (dewarp.py);
  6. upside down or not: PaddleOCR's 0/180 text-line classifier (shipped in the rapidocr wheel) votes
     over line-shaped ink blobs.
`rotation` is the clockwise quarter turn applied (0/90/180/270); `skew` the further counter-clockwise
degrees applied to level the lines.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .dewarp import dewarp
from .orientation import upside_down_votes

MAX_SIDE = 3508  # A4 at 300 dpi
MIN_SIDE = 1200  # smaller images are upscaled 2x so small print reaches the recogniser's 48 px
WORK_SIDE = 1000  # analysis resolution
MAX_SKEW = 10.0
MIN_VOTERS = 4  # text-line blobs needed before the 0/180 classifier may turn a page


@dataclass
class Straightened:
    image: np.ndarray  # RGB, upright
    rotation: int = 0
    skew: float = 0.0
    dewarped: bool = False
    relit: bool = False
    curved: bool = False  # text lines bent and were flattened (dewarp.py)


def straighten(image: np.ndarray, *, quarters: tuple[int, ...] = (0, 90)) -> Straightened:
    """`quarters`: the quarter turns to choose from; (0,) or (90,) straightens the page as it would
    be read unturned or turned, to compare the two readings (quarter_turn.py)."""
    image = scale(image)
    quad = find_page_quad(image)
    dewarped = quad is not None
    if dewarped:
        image = warp_quad(image, quad)
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    relit, gray_flat = flatten_light(image, gray)
    if relit is not None:
        image, gray = relit, gray_flat
    quarter, skew = estimate_orientation(gray, quarters=quarters)
    if quarter:
        image, gray = np.rot90(image, -quarter // 90).copy(), np.rot90(gray, -quarter // 90).copy()
    if abs(skew) >= 0.2:
        image, gray = rotate(image, skew), rotate(gray, skew)
    image, gray, curvature = dewarp(image, gray)
    if is_upside_down(gray):
        image = np.rot90(image, 2).copy()
        quarter = (quarter + 180) % 360
    return Straightened(image, quarter, round(skew, 2), dewarped, relit is not None, curvature is not None)


def scale(image: np.ndarray) -> np.ndarray:
    long_side = max(image.shape[:2])
    if long_side > MAX_SIDE:
        factor = MAX_SIDE / long_side
        return cv2.resize(image, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
    if long_side < MIN_SIDE:
        return cv2.resize(image, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
    return image


def _work_copy(gray: np.ndarray) -> tuple[np.ndarray, float]:
    factor = min(1.0, WORK_SIDE / max(gray.shape[:2]))
    return cv2.resize(gray, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA), factor


def find_page_quad(image: np.ndarray) -> np.ndarray | None:
    """Corners (tl, tr, br, bl, full-resolution) of a bright page on a darker background, if any."""
    small, factor = _work_copy(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY))
    blurred = cv2.GaussianBlur(small, (9, 9), 0)
    _, bright = cv2.threshold(blurred, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    bright = cv2.morphologyEx(bright, cv2.MORPH_CLOSE, np.ones((15, 15), np.uint8))
    contours, _ = cv2.findContours(bright, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return None
    page = max(contours, key=cv2.contourArea)
    area_share = cv2.contourArea(page) / float(small.shape[0] * small.shape[1])
    if not 0.2 <= area_share <= 0.93:  # no page edge in view (a scan) or a speck
        return None
    corners = cv2.approxPolyDP(cv2.convexHull(page), 0.02 * cv2.arcLength(page, True), True)
    if len(corners) != 4 or not plausible_page(corners.reshape(4, 2).astype(np.float64), small.shape):
        return None
    inside = cv2.fillPoly(np.zeros_like(small), [corners], 255) > 0
    if blurred[inside].mean() - blurred[~inside].mean() < 40:  # the "page" must stand out from the background
        return None
    return order_corners(corners.reshape(4, 2).astype(np.float32) / factor)


def plausible_page(corners: np.ndarray, shape: tuple[int, ...]) -> bool:
    """A sheet seen in perspective: no corner on the photo's edge (the page runs out of view, or a
    shadow cut the bright area), opposite sides of like length, corners near right angles. A shadow
    or a fold across the page gives a 4-corner bright area that fails these, and warping it would shear
    the text."""
    height, width = shape[:2]
    margin = 0.01 * max(height, width)
    if ((corners < margin) | (corners > np.array([width, height]) - 1 - margin)).any():
        return False
    tl, tr, br, bl = order_corners(corners)
    sides = [np.linalg.norm(tr - tl), np.linalg.norm(br - tr), np.linalg.norm(bl - br), np.linalg.norm(tl - bl)]
    for one, other in ((sides[0], sides[2]), (sides[1], sides[3])):
        if min(one, other) < 0.75 * max(one, other):
            return False
    for before, corner, after in ((bl, tl, tr), (tl, tr, br), (tr, br, bl), (br, bl, tl)):
        a, b = before - corner, after - corner
        cosine = float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-9))
        if abs(cosine) > np.cos(np.radians(65)):  # more than 25 degrees from square
            return False
    return True


def order_corners(points: np.ndarray) -> np.ndarray:
    by_sum, by_diff = points.sum(axis=1), np.diff(points, axis=1).ravel()
    return np.array(
        [points[by_sum.argmin()], points[by_diff.argmin()], points[by_sum.argmax()], points[by_diff.argmax()]]
    )


def warp_quad(image: np.ndarray, quad: np.ndarray) -> np.ndarray:
    tl, tr, br, bl = quad
    width = int(max(np.linalg.norm(tr - tl), np.linalg.norm(br - bl)))
    height = int(max(np.linalg.norm(bl - tl), np.linalg.norm(br - tr)))
    target = np.array([[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]], dtype=np.float32)
    matrix = cv2.getPerspectiveTransform(quad.astype(np.float32), target)
    return cv2.warpPerspective(image, matrix, (width, height), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)


def flatten_light(image: np.ndarray, gray: np.ndarray) -> tuple[np.ndarray | None, np.ndarray]:
    """Divide out uneven lighting (the paper's brightness, ink closed away); None when lighting is even."""
    small, factor = _work_copy(gray)
    kernel = max(15, int(small.shape[1] / 40) | 1)
    paper = cv2.medianBlur(cv2.morphologyEx(small, cv2.MORPH_CLOSE, np.ones((kernel, kernel), np.uint8)), kernel)
    low, high = np.percentile(paper, [2, 98])
    if high - low < 0.12 * high:
        return None, gray
    paper = cv2.resize(paper, (gray.shape[1], gray.shape[0]), interpolation=cv2.INTER_LINEAR).astype(np.float32)
    flat = np.clip(gray.astype(np.float32) / np.maximum(paper, 1) * 255, 0, 255).astype(np.uint8)
    return cv2.cvtColor(flat, cv2.COLOR_GRAY2RGB), flat


def ink_mask(gray: np.ndarray) -> np.ndarray:
    """Text pixels of a work copy (1 = ink) without ruling lines, which would vote for their own direction.

    A rule is any straight run of ink longer than the tallest letters (~1/40 of the page's long side
    at analysis size); letters are separate glyphs, so words survive in either orientation.
    """
    _, ink = cv2.threshold(gray, 0, 1, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    length = max(15, max(ink.shape) // 40)
    rules = cv2.morphologyEx(ink, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (length, 1)))
    rules |= cv2.morphologyEx(ink, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (1, length)))
    return ink & (1 - rules)


def profile_sharpness(ink: np.ndarray, angle: float) -> float:
    height, width = ink.shape
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0)
    rows = cv2.warpAffine(ink, matrix, (width, height), flags=cv2.INTER_NEAREST).sum(axis=1, dtype=np.float64)
    return float(np.square(np.diff(rows)).sum())


def estimate_orientation(gray: np.ndarray, quarters: tuple[int, ...] = (0, 90)) -> tuple[int, float]:
    """(clockwise quarter turn 0 or 90, then counter-clockwise skew degrees) that make text lines horizontal.

    The projection profile is only a first guess for the quarter turn: monospaced columns of short
    lines (dotted leaders) make a sharp profile sideways too, so the reader confirms a turn by
    recognition (orientation.confirm_quarter_turn)."""
    small, _ = _work_copy(gray)
    ink = ink_mask(small)
    if ink.sum() < 200:  # a blank page
        return quarters[0], 0.0
    coarse_ink = cv2.resize(ink * 255, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)  # coarse pass at half size
    best = (-1.0, 0, 0.0)
    for quarter in quarters:
        view = coarse_ink if quarter == 0 else np.ascontiguousarray(np.rot90(coarse_ink, -1))
        for angle in np.arange(-MAX_SKEW, MAX_SKEW + 0.01, 1.0):
            best = max(best, (profile_sharpness(view, angle), quarter, float(angle)))
    _, quarter, coarse = best
    view = ink if quarter == 0 else np.ascontiguousarray(np.rot90(ink, -1))
    fine = max(np.arange(coarse - 1.0, coarse + 1.01, 0.1), key=lambda a: profile_sharpness(view, a))
    return quarter, float(fine)


def rotate(image: np.ndarray, angle: float) -> np.ndarray:
    """Rotate counter-clockwise by angle degrees on a canvas that keeps every corner, filled as paper."""
    height, width = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0)
    cos, sin = abs(matrix[0, 0]), abs(matrix[0, 1])
    new_width, new_height = int(height * sin + width * cos), int(height * cos + width * sin)
    matrix[0, 2] += new_width / 2 - width / 2
    matrix[1, 2] += new_height / 2 - height / 2
    paper = tuple(
        int(v) for v in np.percentile(image.reshape(-1, image.shape[2] if image.ndim == 3 else 1), 95, axis=0)
    )
    return cv2.warpAffine(image, matrix, (new_width, new_height), flags=cv2.INTER_LINEAR, borderValue=paper)


def is_upside_down(gray: np.ndarray) -> bool:
    small, factor = _work_copy(gray)
    ink = ink_mask(small)
    blobs = cv2.dilate(ink, cv2.getStructuringElement(cv2.MORPH_RECT, (9, 3)))
    count, _, stats, _ = cv2.connectedComponentsWithStats(blobs)
    boxes = [
        (x, y, w, h) for x, y, w, h, _ in stats[1:count]
        if 6 <= h <= 40 and w >= 2 * h  # word- or line-shaped ink, not specks or rules
    ]
    if len(boxes) < MIN_VOTERS:  # a speck or two on a blank page is no evidence: an upright page is never turned
        return False
    boxes = sorted(boxes, key=lambda b: b[2] * b[3], reverse=True)[:16]
    crops = []
    for x, y, w, h in boxes:
        pad = max(2, h // 4)
        x0, y0 = max(0, int((x - pad) / factor)), max(0, int((y - pad) / factor))
        x1, y1 = int((x + min(w, 5 * h) + pad) / factor), int((y + h + pad) / factor)
        crops.append(gray[y0:y1, x0:x1])
    return upside_down_votes(crops) > 0.5
