"""`_filter` (R4 search_filter.html) through HTTP: the grammar, each operation on each parameter type,
and 400s naming what is not supported."""
import pytest

from .helpers import LOINC, idset, observation, q, search

CS = "http://acme.org/codes"


@pytest.fixture
def people(store):
    store(
        {
            "resourceType": "Patient",
            "name": [{"given": ["Peter"], "family": "Smith"}],
            "gender": "male",
            "birthDate": "2015-01-01",
        },
        id="peter",
    )
    store(
        {
            "resourceType": "Patient",
            "name": [{"given": ["Petra"], "family": "Jones"}],
            "gender": "female",
            "birthDate": "2013-05-05",
        },
        id="petra",
    )
    store(
        {
            "resourceType": "Patient",
            "name": [{"given": ["Anna"], "family": "Peterson"}],
            "gender": "female",
            "birthDate": "2016-03-03",
        },
        id="anna",
    )
    store({"resourceType": "Patient", "name": [{"given": ["Bob"], "family": "Müller, Jr"}], "gender": "male"}, id="bob")


def f(expression: str) -> str:
    return "_filter=" + q(expression)


def test_spec_examples(fhir, people):
    assert idset(fhir, "Patient?" + f('name co "pet"')) == {"peter", "petra", "anna"}
    assert idset(fhir, "Patient?" + f('given eq "peter" and birthdate ge 2014-10-10')) == {"peter"}
    assert idset(fhir, "Patient?" + f('given eq "petra" and birthdate ge 2014-10-10')) == set()


def test_string_operations_are_case_and_accent_insensitive_and_whole_value_for_eq(fhir, people):
    assert idset(fhir, "Patient?" + f('given eq "pet"')) == set()  # eq is not the default prefix match
    assert idset(fhir, "Patient?" + f('given sw "pet"')) == {"peter", "petra"}
    assert idset(fhir, "Patient?" + f('given eq "PETER"')) == {"peter"}
    assert idset(fhir, "Patient?" + f('family eq "muller, jr"')) == {"bob"}  # accents ignored; the comma is no OR
    assert idset(fhir, "Patient?" + f('family ew "son"')) == {"anna"}
    assert idset(fhir, "Patient?" + f('family co "ll"')) == {"bob"}
    assert idset(fhir, "Patient?" + f('family ne "smith"')) == {"petra", "anna", "bob"}
    assert idset(fhir, "Patient?" + f('family lt "k"')) == {"petra"}  # lexical, on the normalised form
    assert idset(fhir, "Patient?" + f('family ge "p"')) == {"anna", "peter"}


def test_and_binds_tighter_than_or_and_not_negates(fhir, people):
    # (female and born before 2014) or Bob; right-to-left grouping would give only petra
    assert idset(fhir, "Patient?" + f("gender eq female and birthdate lt 2014 or given eq bob")) == {"petra", "bob"}
    assert idset(fhir, "Patient?" + f("gender eq female and (birthdate lt 2014 or given eq bob)")) == {"petra"}
    assert idset(fhir, "Patient?" + f("given eq bob or gender eq female and birthdate lt 2014")) == {"petra", "bob"}
    assert idset(fhir, "Patient?" + f("not (gender eq male)")) == {"petra", "anna"}
    assert idset(fhir, "Patient?" + f("not (gender eq male or birthdate ge 2016)")) == {"petra"}
    assert idset(fhir, "Patient?" + f("gender ne male")) == {"petra", "anna"}
    assert idset(fhir, "Patient?" + f("birthdate pr false")) == {"bob"}
    assert idset(fhir, "Patient?" + f("birthdate pr true")) == {"peter", "petra", "anna"}


def test_filter_is_anded_with_ordinary_parameters_and_other_filters(fhir, people):
    assert idset(fhir, "Patient?" + f("gender eq female") + "&birthdate=lt2014") == {"petra"}
    assert idset(fhir, "Patient?" + f("gender eq female") + "&" + f('name co "pet"')) == {"petra", "anna"}
    bundle = search(fhir, "Patient?" + f("gender eq female"))
    assert "_filter=gender+eq+female" in bundle["link"][0]["url"]
    assert not [e for e in bundle.get("entry", []) if e["search"]["mode"] == "outcome"]


def test_id_and_last_updated_and_system_search(fhir, people):
    assert idset(fhir, "Patient?" + f("_id eq petra or _id eq anna")) == {"petra", "anna"}
    assert idset(fhir, "Patient?" + f("_id ne petra")) == {"peter", "anna", "bob"}
    assert idset(fhir, "Patient?" + f("_lastUpdated gt 2000-01-01")) == {"peter", "petra", "anna", "bob"}
    assert idset(fhir, "Patient?" + f("_lastUpdated lt 2000-01-01")) == set()
    assert idset(fhir, "/fhir?_type=Patient&" + f("_id eq bob")) == {"bob"}


def test_text_content_and_list(fhir, store, people):
    store(
        {
            "resourceType": "Patient",
            "text": {
                "status": "generated",
                "div": '<div xmlns="http://www.w3.org/1999/xhtml">Allergic to penicillin</div>',
            },
            "name": [{"family": "Narrated"}],
        },
        id="told",
    )
    store(
        {
            "resourceType": "List",
            "status": "current",
            "mode": "working",
            "entry": [{"item": {"reference": "Patient/anna"}}],
        },
        id="l1",
    )
    assert idset(fhir, "Patient?" + f('_text co "penicillin allergic"')) == {"told"}
    assert idset(fhir, "Patient?" + f('_content co "peterson"')) == {"anna"}
    assert idset(fhir, "Patient?" + f("_list eq l1 or _id eq bob")) == {"anna", "bob"}


@pytest.fixture
def labs(store, people):
    store(
        {
            "resourceType": "CodeSystem",
            "url": CS,
            "status": "active",
            "content": "complete",
            "hierarchyMeaning": "is-a",
            "concept": [{"code": "A", "concept": [{"code": "B"}]}, {"code": "C"}],
        },
        id="cs",
    )
    store({"resourceType": "ValueSet", "url": "http://acme.org/vs/hb", "status": "active",
           "compose": {"include": [{"system": LOINC, "concept": [{"code": "718-7"}]}]}}, id="vs")
    store(observation("718-7", patient="peter", value=16, date="2026-01-15"), id="hb-peter")
    store(observation("718-7", patient="petra", value=11, date="2026-03-01"), id="hb-petra")
    store(observation("2345-7", patient="anna", value=5.4, unit="mmol/L",
                      effectivePeriod={"start": "2026-01-20", "end": "2026-02-10"}), id="glu-anna")
    store(observation(code={"coding": [{"system": CS, "code": "B"}]}, patient="bob"), id="b-bob")
    store(observation(code={"coding": [{"system": CS, "code": "C"}]}, patient="bob"), id="c-bob")


def test_token_operations(fhir, labs):
    assert idset(fhir, "Observation?" + f(f"code eq {LOINC}|718-7")) == {"hb-peter", "hb-petra"}
    assert idset(fhir, "Observation?" + f("code eq 2345-7")) == {"glu-anna"}
    assert idset(fhir, "Observation?" + f(f"code ne {LOINC}|718-7")) == {"glu-anna", "b-bob", "c-bob"}
    assert idset(fhir, "Observation?" + f("code in http://acme.org/vs/hb")) == {"hb-peter", "hb-petra"}
    assert idset(fhir, "Observation?" + f("code ni http://acme.org/vs/hb")) == {"glu-anna", "b-bob", "c-bob"}
    assert idset(fhir, "Observation?" + f(f"code ss {CS}|A")) == {"b-bob"}  # A subsumes B, not C
    assert idset(fhir, "Observation?" + f(f"code sb {CS}|B")) == {"b-bob"}
    search(fhir, "Observation?" + f("code ss http://loinc.org|718-7"), status=400)  # no hierarchy held for LOINC


def test_date_number_quantity_operations(fhir, labs):
    assert idset(fhir, "Observation?" + f("date eq 2026-01")) == {"hb-peter"}  # the period runs into February
    assert idset(fhir, "Observation?" + f("date po 2026-02")) == {"glu-anna"}  # overlaps February
    assert idset(fhir, "Observation?" + f("date po 2026-01")) == {"hb-peter", "glu-anna"}
    assert idset(fhir, "Observation?" + f("date sa 2026-02-15")) == {"hb-petra"}
    assert idset(fhir, "Observation?" + f("date eb 2026-01-16")) == {"hb-peter"}
    assert idset(fhir, "Observation?" + f("value-quantity gt 12")) == {"hb-peter"}
    assert idset(fhir, "Observation?" + f("value-quantity le 11")) == {"hb-petra", "glu-anna"}
    assert idset(fhir, "Observation?" + f("value-quantity ap 5")) == {"glu-anna"}
    assert idset(fhir, "Observation?" + f('value-quantity gt "150|http://unitsofmeasure.org|g/L"')) == {"hb-peter"}


def test_reference_operations_and_chains(fhir, labs):
    assert idset(fhir, "Observation?" + f("subject re Patient/peter")) == {"hb-peter"}
    assert idset(fhir, "Observation?" + f("subject eq Patient/bob")) == {"b-bob", "c-bob"}
    assert idset(fhir, "Observation?" + f("subject ne Patient/bob and code eq 718-7")) == {"hb-peter", "hb-petra"}
    assert idset(fhir, "Observation?" + f('subject.name co "pet"')) == {"hb-peter", "hb-petra", "glu-anna"}
    assert idset(fhir, "Observation?" + f('subject.given eq "peter" or subject.birthdate pr false')) == {
        "hb-peter",
        "b-bob",
        "c-bob",
    }
    assert idset(fhir, "Observation?" + f("patient.gender eq female and value-quantity lt 12")) == {
        "hb-petra",
        "glu-anna",
    }


def test_unsupported_operations_and_bad_syntax_are_400s_that_say_why(fhir, people):
    for expression, words in [
        ("birthdate co 2014", "'co' is not supported on date"),
        ("gender sw m", "'sw' is not supported on token"),
        ("name po 2014", "'po' is not supported on string"),
        ("name[given eq x].family eq y", "filters inside a path"),
        ("nonsense eq 1", "unknown search parameter 'nonsense'"),
        ("name zz x", "unknown operation 'zz'"),
        ("(name eq x", "missing ')'"),
        ('name eq "unterminated', "bad string"),
        ("name eq x and", "expected a parameter name"),
        ("gender.name eq x", "only reference parameters can be chained"),
        ("birthdate pr maybe", "true or false"),
        ("name:exact eq x", "modifiers and _has are not part"),
        ("_has:Observation:patient:code eq x", "modifiers and _has are not part"),
        ("birthdate gt notadate", "not a valid date"),
    ]:
        outcome = search(fhir, "Patient?" + f(expression), status=400)
        assert outcome["resourceType"] == "OperationOutcome"
        assert words in outcome["issue"][0]["diagnostics"], (expression, outcome)
    search(fhir, "Patient?_filter:exact=" + q("name eq x"), status=400)
    # an unknown parameter inside a filter is never ignored, even without Prefer: handling=strict
    search(fhir, "Patient?" + f("gender eq male or nonsense eq 1"), status=400)


def test_json_string_escapes(fhir, store):
    store({"resourceType": "Patient", "name": [{"family": 'O"Brien'}]}, id="ob")
    store({"resourceType": "Patient", "name": [{"family": "a\\b"}]}, id="bs")
    store({"resourceType": "Patient", "name": [{"family": "Dupont (II)"}]}, id="dp")
    assert idset(fhir, "Patient?" + f(r'family eq "o\"brien"')) == {"ob"}
    assert idset(fhir, "Patient?" + f(r'family eq "a\\b"')) == {"bs"}
    assert idset(fhir, "Patient?" + f(r'family eq "dupont \u0028ii)" or family eq none')) == {"dp"}


def test_capability_statement_lists_filter(fhir):
    statement = fhir.get("metadata").json()
    patient = next(r for r in statement["rest"][0]["resource"] if r["type"] == "Patient")
    names = {p["name"]: p for p in patient["searchParam"]}
    assert names["_filter"]["type"] == "special"
    assert names["_filter"]["definition"] == "http://hl7.org/fhir/SearchParameter/filter"


ODD_FILTERS = [
    "",
    " ",
    "(",
    ")",
    "()",
    "not",
    "not x",
    "not (",
    "and",
    "name",
    "name eq",
    "name eq ",
    'name eq "',
    'name eq "\\x"',
    "name eq x or",
    "name eq x and and name eq y",
    "((((name eq x))))",
    "name  eq  x",
    "name\teq\tx",
    "name eq x)",
    "name eq (x",
    "name eq x]",
    "name.given eq x",
    "subject.subject.subject.subject.subject.name eq x",
    "_filter eq x",
    "near eq 1|2|3|km",
    "near eq 1",
    "birthdate po x",
    "birthdate eq 2026-13",
    "gender in http://nowhere/vs",
    "gender ss a|b",
    "gender ss a",
    "general-practitioner re x/y/z",
    "general-practitioner.name co \\u0000",
    "_id eq ,,,",
    '_text co ""',
    "_content co x",
    "_list eq nothing",
    "_lastUpdated po 2026",
    "identifier eq a|b|c",
    'name eq "\\ud800"',
    'name eq "\\u0000"',
    "é eq x",
    "name eq x or (gender eq male and not (birthdate pr true))",
    "link re Patient/1",
    "_tag ss http://x|y",
]


@pytest.mark.parametrize("expression", ODD_FILTERS)
def test_odd_filters_are_never_a_server_error(fhir, store, expression):
    store({"resourceType": "Patient", "name": [{"given": ["Peter"]}]}, id="p1")
    response = fhir.get("Patient?" + f(expression))
    assert response.status_code in (200, 400), (expression, response.status_code, response.content[:300])
    assert response.json()["resourceType"] == ("Bundle" if response.status_code == 200 else "OperationOutcome")
