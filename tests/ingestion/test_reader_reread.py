"""Regions the recogniser was unsure of are read again with the margins it was trained on."""
from __future__ import annotations

import random

from evaluation.corpus.degrade import DEGRADATIONS
from evaluation.corpus.layouts import LAYOUTS
from evaluation.corpus.render import render_page_images
from ingestion.reader import read_document
from ingestion.reader.reread import with_margins


def test_margins_grow_with_the_height_and_stop_at_the_neighbours_and_the_page():
    box = (100.0, 100.0, 120.0, 120.0)  # 20 px high
    assert with_margins(box, [box], 1000, 1000) == (84.0, 94.0, 136.0, 126.0)
    beside = [(50.0, 102.0, 90.0, 118.0), (130.0, 98.0, 200.0, 121.0)]
    above_below = [(95.0, 60.0, 125.0, 97.0), (110.0, 123.0, 300.0, 140.0)]
    assert with_margins(box, [box, *beside, *above_below], 1000, 1000) == (90.0, 97.0, 130.0, 123.0)
    assert with_margins((0.0, 0.0, 10.0, 10.0), [], 12, 11) == (0.0, 0.0, 12, 11)


def test_a_lone_percent_sign_in_courier_at_150_dpi_is_read():
    # Its tight detected box read as "0" (confidence 0.33); with margins it reads "%" (0.77).
    layout = LAYOUTS["flag-first"]
    report = layout.report(1)
    data, _ = DEGRADATIONS["150dpi"](render_page_images(report, layout, dpi=300)[0], random.Random(1))
    lines = [line.text for line in read_document(data).pages[0].lines]
    percent_rows = [row.printed_name for row in report.rows if row.printed_unit == "%"]
    assert percent_rows
    for name in percent_rows:
        line = next(line for line in lines if line.startswith(name + " "))
        assert line.endswith(" %"), line
