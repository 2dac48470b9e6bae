"""The one condition form (search/conditions.py): SQL text with bound values, folded as it is
combined, embedded as it is by every statement: cursor pages over the records, `_contained=both`,
and the ORM callers through `Where.q()`."""
from fhirserver.search import api
from fhirserver.search.conditions import (
    ALWAYS,
    EVERYTHING,
    NEVER,
    NOTHING,
    Rows,
    Where,
    columns,
    eq,
    like,
    one_of,
)
from fhirserver.search.engine import matching
from fhirserver.storage.models import ResourceRecord

from .helpers import ids, observation, q, search


def _link(bundle, relation):
    return next((link["url"].replace("http://testserver", "") for link in bundle["link"]
                 if link["relation"] == relation), None)


def test_always_and_never_fold_away_when_combined():
    a = eq("code", "x")
    assert a & ALWAYS == a and ALWAYS & a == a and a | NEVER == a and NEVER | a == a
    assert a & NEVER == NEVER and a | ALWAYS == ALWAYS
    assert ~ALWAYS == NEVER and ~NEVER == ALWAYS
    assert one_of("code", []) == NEVER and one_of("code", ["x", "x", None]) == a
    assert Where.of(Rows("search_token", NEVER)) == NOTHING
    assert NOTHING | Where.of(Rows("search_token", a)) == Where.of(Rows("search_token", a))  # still a driver
    assert EVERYTHING & Where.of(Rows("search_token", a)) == Where.of(Rows("search_token", a))


def test_long_ors_and_ands_stay_flat():
    """SQLite's parser refuses deeply nested parentheses: a compartment search ORs ~60 types."""
    many = NEVER
    for i in range(200):
        many |= eq("code", str(i)) & eq("system", "s")
    depth = deepest = 0
    for character in many.text:
        depth += {"(": 1, ")": -1}.get(character, 0)
        deepest = max(deepest, depth)
    assert deepest == 2 and many.text.count(" OR ") == 199 and len(many.params) == 400
    assert (eq("a", 1) & eq("b", 2) & eq("c", 3)).text == '("a" = %s AND "b" = %s AND "c" = %s)'


def test_a_compartment_search_of_every_type_answers_on_every_database(store, fhir):
    store({"resourceType": "Patient"}, id="p1")
    store(observation(patient="p1"), id="o1")
    assert ids(search(fhir, "Patient/p1/*?_count=10")) and ids(search(fhir, "Patient/p1/*?_total=accurate"))


def test_values_are_bound_never_written_into_the_text():
    hostile = "x' OR '1'='1"
    condition = columns(name="family", value=hostile) & like("value", "startswith", hostile)
    written = condition.text.replace("ESCAPE '\\'", "")  # SQLite's LIKE names its escape character
    assert hostile not in condition.text and "'" not in written
    assert condition.params[:2] == ("family", hostile)


def test_a_hostile_value_is_only_a_value(store, fhir):
    store({"resourceType": "Patient", "name": [{"family": "O'Brien"}]}, id="ob")
    store({"resourceType": "Patient", "name": [{"family": "Smith"}]}, id="sm")
    assert ids(search(fhir, f"Patient?family={q('o' + chr(39) + 'brien')}")) == ["ob"]
    assert ids(search(fhir, f"Patient?family={q(chr(39) + ' OR 1=1 --')}")) == []


def test_cursor_pages_over_records_cross_the_records_without_a_sort_value(store, fhir):
    for i, date in enumerate(["2026-01-03", None, "2026-01-01", None, "2026-01-02"]):
        store(observation(date=date), id=f"o{i}")
    expected = ["o2", "o4", "o0", "o1", "o3"]  # by date, then the undated by id
    walked, url, pages = [], "Observation?_sort=date&_count=2", []
    while url:
        page = search(fhir, url)
        pages.append(page)
        walked += ids(page)
        url = _link(page, "next")
    assert walked == expected and len(pages) == 3
    assert ids(search(fhir, _link(pages[-1], "previous"))) == expected[2:4]
    assert ids(search(fhir, _link(pages[0], "last"))) == expected[3:]
    descending = search(fhir, "Observation?_sort=-date&_count=3")
    assert ids(descending) == ["o0", "o4", "o2"]
    assert ids(search(fhir, _link(descending, "next"))) == ["o3", "o1"]  # undated last, ties in the key's direction


def test_contained_both_pages_with_a_cursor(store, fhir):
    code = {"coding": [{"system": "http://rxnorm", "code": "1049502"}]}
    for i in range(3):
        store({"resourceType": "MedicationRequest", "status": "active", "intent": "order",
               "subject": {"reference": "Patient/p1"}, "contained": [{"resourceType": "Medication", "id": "m",
                                                                      "code": code}],
               "medicationReference": {"reference": "#m"}}, id=f"rx{i}")
        store({"resourceType": "Medication", "code": code}, id=f"med{i}")
    first = search(fhir, "Medication?code=1049502&_contained=both&_count=4&_total=accurate")
    assert first["total"] == 6 and len(ids(first)) == 4
    second = search(fhir, _link(first, "next"))
    assert set(ids(first)) | set(ids(second)) == {"rx0", "rx1", "rx2", "med0", "med1", "med2"}
    assert _link(second, "next") is None


def test_the_orm_adapter_selects_what_the_search_selects(store, fhir):
    store({"resourceType": "Patient", "name": [{"family": "Chalmers"}]}, id="p1")
    store({"resourceType": "Patient", "name": [{"family": "Other"}]}, id="p2")
    store(observation(patient="p1"), id="o1")
    store(observation("2345-7", patient="p1"), id="o2")
    store(observation(patient="p2"), id="o3")
    query = [("subject:Patient.name", "chalmers"), ("code:not", "2345-7")]
    by_search = ids(search(fhir, "Observation?" + "&".join(f"{k}={v}" for k, v in query)))
    by_adapter = [r.logical_id for r in ResourceRecord.objects.filter(matching("Observation", query, "").q())]
    assert by_search == by_adapter == ["o1"]
    assert [r.logical_id for r in api.match_records("Patient", [("_has:Observation:patient:code", "2345-7")])] == ["p1"]
