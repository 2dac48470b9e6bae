""":in / :not-in ask the terminology engine (fhirserver.terminology.source + resources.terminology):
whatever `ValueSet/$expand` says a value set holds is what `code:in=` matches, for stored value sets
with filters and imports, stored code systems' hierarchies, and the value sets the server ships."""
from .helpers import CATEGORY, idset, observation, q, search

CS = "http://acme.org/cs/labs"
VS = "http://acme.org/vs/blood-counts"


def _terminology(store):
    store(
        {
            "resourceType": "CodeSystem",
            "url": CS,
            "status": "active",
            "content": "complete",
            "hierarchyMeaning": "is-a",
            "concept": [
                {"code": "blood", "concept": [{"code": "hb"}, {"code": "wbc", "concept": [{"code": "neut"}]}]},
                {"code": "chem", "concept": [{"code": "glu"}]},
            ],
        },
        id="labs-cs",
    )
    # intensional: everything under `blood` by the code system's is-a hierarchy, minus wbc itself
    store(
        {
            "resourceType": "ValueSet",
            "url": VS,
            "status": "active",
            "compose": {
                "include": [{"system": CS, "filter": [{"property": "concept", "op": "is-a", "value": "blood"}]}],
                "exclude": [{"system": CS, "concept": [{"code": "wbc"}]}],
            },
        },
        id="blood-vs",
    )
    for code in ("hb", "wbc", "neut", "glu"):
        store(observation(**{"code": {"coding": [{"system": CS, "code": code}]}}), id=f"obs-{code}")


def test_in_follows_filters_and_excludes_of_a_stored_value_set(store, fhir):
    _terminology(store)
    assert idset(fhir, f"Observation?code:in={q(VS)}") == {"obs-hb", "obs-neut"}
    assert idset(fhir, f"Observation?code:not-in={q(VS)}") == {"obs-wbc", "obs-glu"}
    assert idset(fhir, "Observation?" + q("_filter") + "=" + q(f"code in {VS}")) == {"obs-hb", "obs-neut"}


def test_in_matches_what_expand_says(store, fhir):
    _terminology(store)
    expansion = search(fhir, f"ValueSet/$expand?url={q(VS)}")
    expanded = {c["code"] for c in expansion["expansion"]["contains"]}
    matched = {i.removeprefix("obs-") for i in idset(fhir, f"Observation?code:in={q(VS)}")}
    assert matched == expanded & {"hb", "wbc", "neut", "glu"}


def test_in_a_code_systems_implicit_value_set(store, fhir):
    _terminology(store)
    assert idset(fhir, f"Observation?code:in={q(CS + '?fhir_vs=isa/wbc')}") == {"obs-wbc", "obs-neut"}


def test_in_a_shipped_value_set(store, fhir):
    store(observation(kind="laboratory"), id="lab")
    store(observation(kind="vital-signs"), id="vital")
    store(observation(**{"category": [{"coding": [{"system": "http://acme.org/cat", "code": "laboratory"}]}]}),
          id="elsewhere")
    shipped = "http://hl7.org/fhir/ValueSet/observation-category"
    assert idset(fhir, f"Observation?category:in={q(shipped)}") == {"lab", "vital"}
    assert idset(fhir, f"Observation?category:not-in={q(shipped)}") == {"elsewhere"}
    assert idset(fhir, f"Observation?category:in={q(shipped)}&category={q(CATEGORY + '|vital-signs')}") == {"vital"}


def test_in_an_unknown_value_set_is_a_400_that_names_it(store, fhir):
    store(observation(), id="o")
    outcome = search(fhir, f"Observation?code:in={q('http://nowhere.example/vs')}", status=400)
    assert outcome["resourceType"] == "OperationOutcome"
    assert "http://nowhere.example/vs" in outcome["issue"][0]["diagnostics"]


def test_in_a_value_set_over_a_code_system_not_held_is_a_400_not_an_empty_answer(store, fhir):
    """SNOMED CT ships as a stub (content not-present): 'no codes' would be a wrong answer."""
    store(observation(**{"code": {"coding": [{"system": "http://snomed.info/sct", "code": "271649006"}]}}), id="o")
    outcome = search(fhir, f"Observation?code:in={q('http://snomed.info/sct?fhir_vs')}", status=400)
    assert "not-present" in outcome["issue"][0]["diagnostics"]
