"""A curved page is flattened by the slope of its text lines (ingestion/reader/dewarp.py); a flat page
is left as it is; a blank page is never turned. Pages are generated here and bent by a known field."""
import cv2
import numpy as np
import pytest
from PIL import Image

from ingestion.reader import read_document
from ingestion.reader.dewarp import measure
from ingestion.reader.straighten import straighten

from .reader_samples import ROWS, encode, page_images, report_pdf


def bend(page: np.ndarray, amplitude: float) -> np.ndarray:
    """A sheet sagging like a book page: the middle of every line pushed down by `amplitude` px
    (more at the foot of the page than at its head), the ends left where they were."""
    height, width = page.shape[:2]
    xs, ys = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    u = (xs - width / 2) / (width / 2)
    sag = amplitude * (1 - u ** 2) * (0.7 + 0.6 * ys / height)
    return cv2.remap(page, xs, ys - sag, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


@pytest.fixture(scope="module")
def flat_page() -> np.ndarray:
    return np.asarray(page_images(report_pdf(), dpi=200)[0])


def test_a_bent_page_is_measured_and_flattened(flat_page):
    bent = bend(flat_page, amplitude=70)  # more than a line's height: rows would run into each other
    curvature = measure(cv2.cvtColor(bent, cv2.COLOR_RGB2GRAY))
    assert curvature is not None and curvature.needed
    # bent lines make a blurred ink profile either way, so a quarter turn is the recogniser's call
    # (quarter_turn.py, and the read-through test below); here the page is straightened unturned
    straight = straighten(bent, quarters=(0,))
    assert straight.curved and straight.rotation == 0
    left = measure(cv2.cvtColor(straight.image, cv2.COLOR_RGB2GRAY))
    assert left is not None and not left.needed  # what is left bends by less than a share of a line
    assert left.largest_shift() < curvature.largest_shift() / 4


def test_a_flat_page_comes_out_untouched(flat_page):
    curvature = measure(cv2.cvtColor(flat_page, cv2.COLOR_RGB2GRAY))
    assert curvature is not None and not curvature.needed
    straight = straighten(flat_page)
    assert not straight.curved
    assert np.array_equal(straight.image, flat_page)  # pixel-identical: nothing to level, bend or turn


def test_the_reader_reads_a_bent_page_row_by_row(flat_page):
    document = read_document(encode(Image.fromarray(bend(flat_page, amplitude=70)), "PNG"))
    [page] = document.pages
    words = [word for line in page.lines for word in line.words]
    for name, value, unit, *_ in ROWS:
        named = [w for w in words if w.text == name.split()[0]]
        valued = [w for w in words if w.text == value]
        assert named and valued, f"{name} {value} not read"
        # the value sits on its name's line: level, not half a line up or down the bend
        name_middle = (named[0].box[1] + named[0].box[3]) / 2
        nearest = min(valued, key=lambda w: abs((w.box[1] + w.box[3]) / 2 - name_middle))
        height = named[0].box[3] - named[0].box[1]
        assert abs((nearest.box[1] + nearest.box[3]) / 2 - name_middle) < 0.5 * height, (name, value)


def test_a_blank_page_with_specks_is_not_turned():
    page = np.full((2200, 1700, 3), 250, dtype=np.uint8)
    rng = np.random.default_rng(3)
    for x, y in rng.integers(200, 1500, size=(2, 2)):
        cv2.rectangle(page, (int(x), int(y)), (int(x) + 40, int(y) + 12), (60, 60, 60), -1)  # two dashes of dirt
    straight = straighten(page)
    assert straight.rotation == 0

