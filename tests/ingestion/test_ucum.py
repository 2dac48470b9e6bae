"""resources.ucum: printed units to UCUM, the UCUM parser, conversion and canonical forms."""
from decimal import Decimal as D

import pytest

from resources.ucum import UcumError, canonical, convert, is_valid, normalize_unit, parse, same_dimension

PRINTED = [
    # counts: every spelling of "thousands per microlitre"
    ("x10^3/uL", "10*3/uL"), ("K/uL", "10*3/uL"), ("k/µl", "10*3/uL"), ("10^3/µL", "10*3/uL"),
    ("10*3/uL", "10*3/uL"), ("x10E3/uL", "10*3/uL"), ("thou/uL", "10*3/uL"), ("Thou/cmm", "10*3/uL"),
    ("10³/µL", "10*3/uL"), ("x 10^3/uL", "10*3/uL"), ("X10^3/UL", "10*3/uL"), ("10^3 cells/uL", "10*3/uL"),
    ("x10^6/uL", "10*6/uL"), ("M/uL", "10*6/uL"), ("mill/cumm", "10*6/uL"), ("million/cumm", "10*6/uL"),
    ("10^12/L", "10*12/L"), ("T/L", "10*12/L"), ("x10^9/L", "10*9/L"), ("×10⁹/L", "10*9/L"),
    ("G/L", "10*9/L"), ("lakhs/cumm", "10*5/uL"), ("cells/uL", "/uL"), ("Cells/µL", "/uL"), ("/cumm", "/uL"),
    # case matters in UCUM: G/L is giga per litre, g/L grams per litre
    ("g/L", "g/L"), ("g/dl", "g/dL"), ("mg/dl", "mg/dL"), ("mmol/l", "mmol/L"), ("µmol/L", "umol/L"),
    ("mcmol/L", "umol/L"), ("nmol/L", "nmol/L"), ("pmol/L", "pmol/L"), ("mg/L", "mg/L"),
    ("µg/dL", "ug/dL"), ("ug/dL", "ug/dL"), ("mcg/dL", "ug/dL"), ("ng/mL", "ng/mL"), ("pg/mL", "pg/mL"),
    ("ng/dL", "ng/dL"), ("g%", "g/dL"), ("mg/g creat", "mg/g{creat}"), ("mg/mmol", "mg/mmol"),
    ("mmol/mol", "mmol/mol"),
    # international units: uIU/mL == mIU/L
    ("uIU/mL", "m[IU]/L"), ("µIU/mL", "m[IU]/L"), ("mIU/L", "m[IU]/L"), ("mIU/mL", "m[IU]/mL"),
    ("IU/L", "[IU]/L"), ("IU/mL", "[IU]/mL"), ("U/L", "U/L"), ("U/mL", "U/mL"), ("kU/L", "kU/L"),
    ("mEq/L", "meq/L"), ("mOsm/kg", "mosm/kg"),
    ("%", "%"), ("fL", "fL"), ("cu.mic", "fL"), ("pg", "pg"), ("sec", "s"), ("s", "s"),
    ("ratio", "{ratio}"), ("Ratio", "{ratio}"), ("INR", "{INR}"), ("/hpf", "/[HPF]"), ("RBC/hpf", "/[HPF]"),
    ("/LPF", "/[LPF]"), ("mL/min/1.73m2", "mL/min/{1.73_m2}"), ("mL/min/1.73 m²", "mL/min/{1.73_m2}"),
    ("mL/min", "mL/min"), ("mm/hr", "mm/h"), ("mm/1st hr", "mm/h"), ("mmHg", "mm[Hg]"),
    ("mg/24h", "mg/(24.h)"), ("g/24 hr", "g/(24.h)"), ("(mg/dL)", "mg/dL"), ("mg/dL.", "mg/dL"),
    ("ml/min/1.73 sq.m", "mL/min/{1.73_m2}"), ("mm of Hg", "mm[Hg]"), ("mmol/mol Hb", "mmol/mol"),
    ("/100 WBC", "/100{WBCs}"), ("INR ratio", "{INR}"), ("copies/mL", "{copies}/mL"), ("U/L (37°C)", "U/L"),
    ("mOsm/kg H2O", "mosm/kg"), ("% of total Hb", "%"), ("ng/mL FEU", "ng/mL{FEU}"), ("mg/g Cr", "mg/g{creat}"),
    ("Thousand/µL", "10*3/uL"), ("x10E9/L", "10*9/L"), ("10⁶/µL", "10*6/uL"), ("gm/dl", "g/dL"),
    # OCR misreads
    ("x10~3/uL", "10*3/uL"), ("x1O^3/uL", "10*3/uL"), ("x103/uL", "10*3/uL"), ("ulU/mL", "m[IU]/L"),
    ("mg/dI", "mg/dL"), ("mg/d1", "mg/dL"), ("mmoI/L", "mmol/L"), ("mm0l/L", "mmol/L"), ("lU/L", "[IU]/L"),
]


@pytest.mark.parametrize("printed,code", PRINTED)
def test_printed_units_normalise_to_ucum(printed, code):
    assert normalize_unit(printed) == code
    assert is_valid(code)


@pytest.mark.parametrize("printed", ["", "blah", "Negative", "mg/dq", "10x3/uL", "per", "/", "H"])
def test_unknown_units_are_none(printed):
    assert normalize_unit(printed) is None


@pytest.mark.parametrize("code", ["mg/dL", "10*3/uL", "m[IU]/L", "mL/min/{1.73_m2}", "/[HPF]", "mm[Hg]",
                                  "g.m-3", "mg/(24.h)", "kg/m2", "{INR}", "%", "umol/min", "10^9/L", "1"])
def test_parser_accepts_ucum(code):
    assert is_valid(code)


@pytest.mark.parametrize("code", ["mg/dl/", "MG/DL", "10*/L", "mg/{x", "(mg/dL", "foo", "m[IU", "mg//dL", ""])
def test_parser_rejects_invalid(code):
    with pytest.raises(UcumError):
        parse(code)


def test_prefix_and_exponent_arithmetic():
    assert parse("dL").factor == D("0.0001")
    assert parse("mm3").factor == parse("uL").factor
    assert parse("10*3/uL").dims == parse("10*9/L").dims
    assert canonical(D(7), "10*3/uL") == canonical(D(7), "10*9/L")


def test_same_dimension_compares_always():
    assert canonical(D("13.5"), "g/dL") == canonical(D("135"), "g/L")
    assert convert(D("13.5"), "g/dL", "g/L") == D("135")
    assert convert(D("2.5"), "u[IU]/mL", "m[IU]/L") == D("2.5")
    assert convert(D("1"), "mm[Hg]", "kPa") == D("0.133322")
    assert convert(D("60"), "U/L", "ukat/L") == D("1")
    assert convert(D("90"), "s", "min") == D("1.5")


def test_mass_and_amount_convert_only_with_molar_mass():
    assert convert(D("5.4"), "mmol/L", "mg/dL") is None
    assert canonical(D("5.4"), "mmol/L")[1] != canonical(D("97"), "mg/dL")[1]
    assert convert(D("5.4"), "mmol/L", "mg/dL", molar_mass=D("180.16")) == D("97.2864")
    assert convert(D("97.2864"), "mg/dL", "mmol/L", molar_mass=D("180.16")) == D("5.4")


def test_incommensurable_units_do_not_convert():
    assert convert(D(5), "%", "/[HPF]") is None
    assert convert(D(5), "[IU]/L", "U/L") is None  # arbitrary units never equal enzyme units
    assert convert(D(5), "mg/dL", "mmol") is None
    assert convert(D(5), "mg/dL", "nonsense") is None
    assert not same_dimension("10*3/uL", "g/L")


def test_annotations_are_unity_and_percent_is_a_fraction():
    assert canonical(D(90), "mL/min/{1.73_m2}") == canonical(D(90), "mL/min")
    assert canonical(D(5), "%") == (D("0.05"), "1")
    assert canonical(D("0.05"), "{ratio}") == (D("0.05"), "1")


def test_temperatures_convert_with_their_offsets():
    assert convert(D("37"), "Cel", "[degF]") == D("98.6")
    assert convert(D("98.6"), "[degF]", "Cel") == D("37")
    assert canonical(D("37"), "Cel") == canonical(D("310.15"), "K") == (D("310.15"), "K")
    assert normalize_unit("°C") == "Cel" and normalize_unit("deg F") == "[degF]"
    assert convert(D("37"), "Cel", "mg/dL") is None
