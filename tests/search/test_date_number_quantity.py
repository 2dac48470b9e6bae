"""date, number and quantity parameters: every prefix, at the boundaries of precision and units."""
from .helpers import UCUM, idset, observation, q, search


def _dated(store):
    store(observation(date="2026-04-30T23:59:59Z"), id="apr30")
    store(observation(date="2026-05-01T00:00:00Z"), id="may1")
    store(observation(date="2026-05-31T23:59:59Z"), id="may31")
    store(observation(date="2026-06-01"), id="jun1")
    store(observation(effectivePeriod={"start": "2026-05-10", "end": "2026-06-10"}), id="period")
    store(observation(effectivePeriod={"start": "2026-05-20"}), id="open")


def test_date_precision_ranges(store, fhir):
    _dated(store)
    assert idset(fhir, "Observation?date=2026-05") == {"may1", "may31"}
    assert idset(fhir, "Observation?date=eq2026-05-01") == {"may1"}
    assert idset(fhir, "Observation?date=2026") == {"apr30", "may1", "may31", "jun1", "period"}
    assert idset(fhir, "Observation?date=2026-05-01T00:00:00Z") == {"may1"}
    assert idset(fhir, "Observation?date=ne2026-05") == {"apr30", "jun1", "period", "open"}


def test_date_prefixes(store, fhir):
    _dated(store)
    assert idset(fhir, "Observation?date=gt2026-05") == {"jun1", "period", "open"}
    assert idset(fhir, "Observation?date=ge2026-05") == {"may1", "may31", "jun1", "period", "open"}
    assert idset(fhir, "Observation?date=lt2026-05") == {"apr30"}
    assert idset(fhir, "Observation?date=le2026-05-01") == {"apr30", "may1"}
    assert idset(fhir, "Observation?date=sa2026-05-31") == {"jun1"}
    assert idset(fhir, "Observation?date=eb2026-05-10") == {"apr30", "may1"}
    # ranges that overlap both bounds match both (R4: gt/lt compare the ranges, not points)
    assert idset(fhir, "Observation?date=ge2026-05-01&date=lt2026-06-01") == {"may1", "may31", "period", "open"}
    assert idset(fhir, "Observation?date=ap2026-05-01") >= {"apr30", "may1"}
    assert "jun1" not in idset(fhir, "Observation?date=ap2026-01-01")


def test_timezones_and_malformed_dates(store, fhir):
    store(observation(date="2026-05-01T01:30:00+02:00"), id="tz")  # 2026-04-30T23:30Z
    assert idset(fhir, "Observation?date=2026-04-30") == {"tz"}
    assert idset(fhir, "Observation?date=gt2026-04-30T23:00:00Z") == {"tz"}
    for bad in ("2026-13", "notadate", "xx2026", "2026-05-01T25:00"):
        outcome = search(fhir, f"Observation?date={bad}", status=400)
        assert outcome["resourceType"] == "OperationOutcome"


def test_number_prefixes_and_implicit_precision(store, fhir):
    for id_, value in (("a", 99.4), ("b", 99.6), ("c", 100), ("d", 100.49), ("e", 100.5)):
        store({"resourceType": "RiskAssessment", "status": "final", "subject": {"reference": "Patient/p1"},
               "prediction": [{"probabilityDecimal": value}]}, id=id_)
    assert idset(fhir, "RiskAssessment?probability=100") == {"b", "c", "d"}
    assert idset(fhir, "RiskAssessment?probability=100.0") == {"c"}
    assert idset(fhir, "RiskAssessment?probability=ne100") == {"a", "e"}
    assert idset(fhir, "RiskAssessment?probability=gt100") == {"d", "e"}
    assert idset(fhir, "RiskAssessment?probability=ge100") == {"c", "d", "e"}
    assert idset(fhir, "RiskAssessment?probability=lt100") == {"a", "b"}
    assert idset(fhir, "RiskAssessment?probability=le99.6") == {"a", "b"}
    assert idset(fhir, "RiskAssessment?probability=sa100.49") == {"e"}
    assert idset(fhir, "RiskAssessment?probability=eb99.6") == {"a"}
    assert idset(fhir, "RiskAssessment?probability=ap100") == {"a", "b", "c", "d", "e"}
    assert idset(fhir, "RiskAssessment?probability=ap10") == set()
    search(fhir, "RiskAssessment?probability=abc", status=400)
    search(fhir, "RiskAssessment?probability=gtx", status=400)


def test_quantity_with_system_and_code(store, fhir):
    store(observation(value=15.5, unit="g/dL"), id="gdl")
    store(observation(value=15.5, unit="mg"), id="mg")
    store(observation(value=14, unit="g/dL"), id="low")
    store(observation(valueQuantity={"value": 16, "unit": "grams per dl"}), id="free")
    assert idset(fhir, "Observation?value-quantity=gt15") == {"gdl", "mg", "free"}
    assert idset(fhir, f"Observation?value-quantity={q('gt15|' + UCUM + '|g/dL')}") == {"gdl"}
    assert idset(fhir, f"Observation?value-quantity={q('15.5||g/dL')}") == {"gdl"}
    assert idset(fhir, f"Observation?value-quantity={q('16||grams per dl')}") == {"free"}
    assert idset(fhir, f"Observation?value-quantity={q('le14|' + UCUM + '|g/dL')}") == {"low"}
    assert idset(fhir, "Observation?value-quantity=15") == set()  # [14.5, 15.5) excludes 15.5 and 14
    search(fhir, "Observation?value-quantity=15|g/dL", status=400)


def test_quantity_compares_across_ucum_units(store, fhir):
    store(observation("2345-7", value=5.0, unit="mmol/L"), id="mmol")
    store(observation("2345-7", value=6200, unit="umol/L"), id="umol")  # 6.2 mmol/L
    store(observation("2345-7", value=4000, unit="umol/L"), id="umol-low")  # 4.0 mmol/L
    store(observation("2345-7", value=6.0, unit="mg/dL"), id="mass")  # another dimension: never comparable
    assert idset(fhir, f"Observation?value-quantity={q('gt5.4|' + UCUM + '|mmol/L')}") == {"umol"}
    assert idset(fhir, f"Observation?value-quantity={q('lt5.4|' + UCUM + '|mmol/L')}") == {"mmol", "umol-low"}
    assert idset(fhir, f"Observation?value-quantity={q('6.2|' + UCUM + '|mmol/L')}") == {"umol"}
    assert idset(fhir, f"Observation?value-quantity={q('5000|' + UCUM + '|umol/L')}") == {"mmol"}
    assert idset(fhir, f"Observation?value-quantity={q('ge0.06|' + UCUM + '|g/L')}") == {"mass"}
