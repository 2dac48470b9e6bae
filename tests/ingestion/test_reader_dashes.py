"""A page's range dashes and the spaces around them are decided together from the recogniser's
evidence, never one by one."""
from __future__ import annotations

from ingestion.reader.dashes import settle_range_dashes
from ingestion.reader.recogniser import Dash, Reading

UNDECIDED = -1.8  # space evidence between the spaced and unspaced bounds: the model's spaces are kept


def r(text: str, *odds: float, space: float = UNDECIDED) -> Reading:
    return Reading(text, 0.95, tuple(Dash(o, space, space) for o in odds))


def test_ranges_become_en_dashes_when_the_page_as_a_whole_shows_them():
    page = [r("3,5 - 5,1", -0.4), r("44 - 80", -2.0), r("0,40 – 4,00", 0.3), r("Na 140 mmol/L", )]
    assert settle_range_dashes(page) == ["3,5 – 5,1", "44 – 80", "0,40 – 4,00", "Na 140 mmol/L"]


def test_a_hyphen_page_keeps_the_models_own_readings():
    page = [r("3.5 - 5.1", -4.0), r("44-80", -3.1), r("0.40 – 4.00", 0.2), r("1.0 - 2.0", -2.5)]
    assert settle_range_dashes(page) == ["3.5 - 5.1", "44-80", "0.40 – 4.00", "1.0 - 2.0"]


def test_too_few_ranges_decide_nothing():
    page = [r("3.5 - 5.1", -0.1), r("44 - 80", 0.0)]
    assert settle_range_dashes(page) == ["3.5 - 5.1", "44 - 80"]


def test_dates_codes_and_telephone_numbers_are_not_ranges():
    page = [r("2026-11-25", 0.5, 0.5), r("HDL-C", 0.5), r("Tel 010-2000", 0.5), r("A25-911347", 0.5),
            r("1 - 2", -0.5), r("3 - 4", -0.5), r("5 - 6", -0.5)]
    assert settle_range_dashes(page)[:4] == ["2026-11-25", "HDL-C", "Tel 010-2000", "A25-911347"]
    assert settle_range_dashes(page)[4:] == ["1 – 2", "3 – 4", "5 – 6"]


def test_the_second_dash_of_a_reading_gets_its_own_odds():
    # "M: 13.5-17.5 F: 12.0-15.5": the odds are per dash, in order
    page = [r("M: 13.5-17.5 F: 12.0-15.5", -0.2, -0.3), r("4 - 5", -0.1)]
    assert settle_range_dashes(page) == ["M: 13.5–17.5 F: 12.0–15.5", "4 – 5"]


def test_readings_without_odds_are_left_alone():
    page = [r("3.5 - 5.1"), r("44 - 80"), r("1 - 2")]  # another recogniser: no evidence
    assert settle_range_dashes(page) == ["3.5 - 5.1", "44 - 80", "1 - 2"]


def test_spaces_around_the_dash_follow_the_page():
    spaced = [r("3,9 –5,5", 0.1, space=-0.3), r("44–80", 0.2, space=-1.2), r("98 – 107", 0.0, space=-0.01)]
    assert settle_range_dashes(spaced) == ["3,9 – 5,5", "44 – 80", "98 – 107"]
    unspaced = [r("70 -99", -4.0, space=-2.5), r("136-145", -5.0, space=-6.0), r("98-107", -4.0, space=-5.0)]
    assert settle_range_dashes(unspaced) == ["70-99", "136-145", "98-107"]


def test_undecided_spaces_keep_the_models_reading_and_the_rest_of_the_text():
    page = [r("Glucose 3,9 –5,5 mmol/L", 0.1), r("44–80", 0.2), r("98 - 107", -0.2)]
    assert settle_range_dashes(page) == ["Glucose 3,9 –5,5 mmol/L", "44–80", "98 – 107"]


def test_a_confident_reading_is_never_overruled_by_the_page():
    # an accession number among spaced en-dash ranges: the model was sure of its hyphen and its lack of spaces
    page = [r("3,9 - 5,5", -0.2, space=-0.1), r("44 - 80", -0.3, space=-0.1), r("98 - 107", -0.1, space=-0.2),
            Reading("25-210498", 0.99, (Dash(-5.6, -7.1, -7.7),))]
    assert settle_range_dashes(page) == ["3,9 – 5,5", "44 – 80", "98 – 107", "25-210498"]
