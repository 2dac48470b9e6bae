"""Marks the detector misses (a lone `-` flag): found on the full-resolution page, read by the recogniser,
never made out of a clipped character, a speck or a ruling line."""
from __future__ import annotations

import cv2
import numpy as np

from evaluation.corpus.layouts import LAYOUTS
from evaluation.corpus.render import render_page_images
from evaluation.lab import pair_rows, row_differences
from ingestion.reader import read_document
from ingestion.reader.marks import missed_marks
from ingestion.understanding import understand

from .reader_samples import encode

ROW = (100.0, 200.0, 300.0, 240.0)  # a detected word box, 40 px high
NEXT = (420.0, 200.0, 560.0, 240.0)  # the next word on the same row


def page_with(*draw) -> np.ndarray:
    gray = np.full((600, 800), 255, dtype=np.uint8)
    for x0, y0, x1, y1 in (ROW, NEXT):
        cv2.putText(gray, "Word", (int(x0) + 4, int(y1) - 8), cv2.FONT_HERSHEY_SIMPLEX, 1.0, 0, 2)
    for shape in draw:
        shape(gray)
    return gray


def test_a_lone_dash_on_a_detected_row_is_found_at_the_rows_height():
    gray = page_with(lambda g: cv2.rectangle(g, (350, 219), (362, 222), 0, -1))
    [mark] = missed_marks(gray, [ROW, NEXT])
    x0, y0, x1, y1 = mark
    assert (y0, y1) == (ROW[1], ROW[3])  # cropped like its neighbours, so the recogniser sees its size
    assert ROW[2] <= x0 < 350 and 362 < x1 <= NEXT[0]  # blank margins, stopping short of the words


def test_specks_ruling_lines_and_ink_off_the_rows_are_not_marks():
    gray = page_with(
        lambda g: cv2.rectangle(g, (360, 219), (361, 220), 0, -1),  # a speck
        lambda g: cv2.line(g, (0, 252), (799, 252), 0, 2),  # a ruling line under the row
        lambda g: cv2.rectangle(g, (350, 400), (365, 404), 0, -1),  # a dash on no detected row
    )
    assert missed_marks(gray, [ROW, NEXT]) == []


def test_a_character_the_detector_clipped_is_not_read_again():
    # ink running out of the detected box: its connected ink touches the box, so it is not a new word
    gray = page_with(lambda g: cv2.rectangle(g, (290, 215), (320, 224), 0, -1))
    assert missed_marks(gray, [ROW, NEXT]) == []


def test_real_ocr_reads_the_lone_minus_flags_the_detector_does_not_find():
    layout = LAYOUTS["eu-plusminus"]  # '+' / '-' in an untitled column; a 9-pt '-' vanishes at 960 px
    truth = layout.report(1)
    got = understand(read_document(encode(render_page_images(truth, layout, dpi=300)[0], "PNG")))
    pairs, invented = pair_rows(truth.rows[:len(got.rows)], got.rows)
    low = [(t, g) for t, g in pairs if t.flag == "L"]
    assert invented == [] and low
    assert all(g is not None and g.flag == "L" and not row_differences(t, g) for t, g in low), \
        [(t.printed_name, g and row_differences(t, g)) for t, g in low]
