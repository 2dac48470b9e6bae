"""Pure helpers: date precision ranges, implicit numeric precision, escaping, FHIRPath compilation."""
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from fhirserver.core.errors import FhirError
from fhirserver.search import paths
from fhirserver.search.registry import get_param, indexed_params, search_parameters_for
from fhirserver.search.values import date_range, implicit_range, split_escaped, split_or, split_prefix

UTC = timezone.utc


def test_date_ranges_follow_precision():
    assert date_range("2026") == (
        datetime(2026, 1, 1, tzinfo=UTC),
        datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    )
    assert date_range("2026-02") == (
        datetime(2026, 2, 1, tzinfo=UTC),
        datetime(2026, 2, 28, 23, 59, 59, 999999, tzinfo=UTC),
    )
    assert date_range("2026-12")[1] == datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
    assert date_range("2026-05-03T10:00+02:00") == (
        datetime(2026, 5, 3, 8, 0, tzinfo=UTC),
        datetime(2026, 5, 3, 8, 0, 59, 999999, tzinfo=UTC),
    )
    assert date_range("2026-05-03T10:00:00.5Z")[1] == datetime(2026, 5, 3, 10, 0, 0, 599999, tzinfo=UTC)
    assert date_range("2026-13") is None and date_range("yesterday") is None and date_range("2026-02-30") is None


def test_implicit_precision_of_numbers():
    assert implicit_range(Decimal("100")) == (Decimal("99.5"), Decimal("100.5"))
    assert implicit_range(Decimal("5.40")) == (Decimal("5.395"), Decimal("5.405"))
    assert implicit_range(Decimal("1e2")) == (Decimal("50"), Decimal("150"))


def test_escaping_and_prefixes():
    assert split_or(r"a\,b,c") == [r"a\,b", "c"]
    assert split_escaped(r"sys\|x|code", "|") == ["sys|x", "code"]
    assert split_escaped(r"a\$b$c", "$") == ["a$b", "c"]
    assert split_prefix("ge2026", name="date") == ("ge", "2026")
    assert split_prefix("2026", name="date") == ("eq", "2026")
    with pytest.raises(FhirError):
        split_prefix("xx2026", name="date")


def test_every_r4_parameter_compiles_and_common_shapes_take_the_fast_path():
    obs = {"resourceType": "Observation", "subject": {"reference": "Patient/1"}, "effectivePeriod": {"start": "2026"},
           "valueQuantity": {"value": 1}, "component": [{"valueCodeableConcept": {"text": "x"}}]}
    for resource_type in (
        "Observation",
        "Patient",
        "DiagnosticReport",
        "Bundle",
        "InsurancePlan",
        "QuestionnaireResponse",
    ):
        for param in indexed_params(resource_type):
            param.extractor(resource_type)({"resourceType": resource_type})
    assert paths.evaluate("Observation.subject.where(resolve() is Patient)", "Observation", obs) == [
        {"reference": "Patient/1"}
    ]
    assert paths.evaluate("Observation.subject.where(resolve() is Group)", "Observation", obs) == []
    assert paths.evaluate("(Observation.value as Quantity)", "Observation", obs) == [{"value": 1}]
    assert paths.evaluate("Observation.effective", "Observation", obs) == [{"start": "2026"}]
    assert paths.evaluate("(Observation.component.value as CodeableConcept).text", "Observation", obs) == ["x"]
    assert paths.evaluate("Condition.code | Observation.code", "Observation", {"code": {"text": "y"}}) == [
        {"text": "y"}
    ]
    deceased = get_param("Patient", "deceased").extractor("Patient")
    general = paths._fhirpath_fallback("Patient.deceased.exists() and Patient.deceased != false")
    for extra in ({}, {"deceasedBoolean": False}, {"deceasedBoolean": True}, {"deceasedDateTime": "2020-01-01"}):
        patient = {"resourceType": "Patient", "name": [{"family": "X"}], **extra}
        assert deceased(patient) == general(patient) == [bool(extra) and extra != {"deceasedBoolean": False}]


def test_registry_lists_every_parameter_with_its_definition():
    names = {p.name: p for p in search_parameters_for("Observation")}
    assert {
        "code",
        "patient",
        "date",
        "value-quantity",
        "code-value-quantity",
        "_id",
        "_lastUpdated",
        "_tag",
        "_profile",
    } <= set(names)
    assert names["code-value-quantity"].type == "composite"
    assert names["patient"].url == "http://hl7.org/fhir/SearchParameter/clinical-patient"
    assert len(search_parameters_for("Patient")) > 25
