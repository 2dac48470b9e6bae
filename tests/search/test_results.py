"""Result control: _sort, paging, _total, _summary, _elements, _include/_revinclude, _contained,
POST _search, system and compartment search, unknown parameters."""
from urllib.parse import urlencode

from .helpers import ids, idset, observation, search

SUBSETTED = "SUBSETTED"


def _link(bundle, relation):
    return next((link["url"] for link in bundle["link"] if link["relation"] == relation), None)


def _follow(fhir, url):
    return search(fhir, url.replace("http://testserver", ""))


def test_sort_multiple_keys_and_directions(store, fhir):
    store(observation("b", date="2026-01-02"), id="o1")
    store(observation("a", date="2026-01-02"), id="o2")
    store(observation("a", date="2026-01-05"), id="o3")
    store(observation("c"), id="o4")  # no date: last either way
    assert ids(search(fhir, "Observation?_sort=date")) == ["o1", "o2", "o3", "o4"]
    assert ids(search(fhir, "Observation?_sort=-date")) == [
        "o3",
        "o2",
        "o1",
        "o4",
    ]  # ties: id, in the last key's direction
    assert ids(search(fhir, "Observation?_sort=-date,code")) == ["o3", "o2", "o1", "o4"]
    assert ids(search(fhir, "Observation?_sort=code,-date")) == ["o3", "o2", "o1", "o4"]
    assert ids(search(fhir, "Observation?_sort=-_id")) == ["o4", "o3", "o2", "o1"]
    assert ids(search(fhir, "Observation?_sort=_lastUpdated"))[0] == "o1"
    bundle = search(fhir, "Observation?_sort=nonsense,-date")
    assert "_sort=-date" in _link(bundle, "self") and "nonsense" not in _link(bundle, "self")


def test_paging_links_have_no_duplicates_or_gaps_while_data_changes(store, fhir):
    for i in range(7):
        store(observation(date=f"2026-01-{10 + i}"), id=f"o{i}")
    first = search(fhir, "Observation?_sort=-date&_count=3")
    assert ids(first) == ["o6", "o5", "o4"] and first["total"] == 7
    assert _link(first, "previous") is None
    store(observation(date="2026-02-01"), id="newest")  # sorts before the current page
    fhir.delete("Observation/o3")  # a row of the next page disappears
    second = _follow(fhir, _link(first, "next"))
    assert ids(second) == ["o2", "o1", "o0"]
    assert _link(second, "next") is None
    back = _follow(fhir, _link(second, "previous"))
    assert ids(back) == ["o6", "o5", "o4"]
    assert ids(_follow(fhir, _link(back, "previous"))) == ["newest"]
    last = _follow(fhir, _link(first, "last"))
    assert ids(last) == ["o2", "o1", "o0"]
    assert ids(_follow(fhir, _link(last, "previous"))) == ["o6", "o5", "o4"]
    walked, url = [], "Observation?_count=2"
    while url:
        page = search(fhir, url.replace("http://testserver/fhir/", ""))
        walked += ids(page)
        url = _link(page, "next")
    assert sorted(walked) == sorted({"o0", "o1", "o2", "o4", "o5", "o6", "newest"})
    search(fhir, "Observation?_cursor=garbage", status=400)


def test_count_and_total(store, fhir, settings):
    for i in range(5):
        store(observation(), id=f"o{i}")
    settings.FHIR = {**settings.FHIR, "MAX_COUNT": 3, "DEFAULT_COUNT": 2}
    assert len(ids(search(fhir, "Observation"))) == 2
    bundle = search(fhir, "Observation?_count=100")
    assert len(ids(bundle)) == 3 and "_count=3" in _link(bundle, "self")
    assert search(fhir, "Observation?_count=0").get("entry") is None
    assert "total" not in search(fhir, "Observation?_total=none")
    assert search(fhir, "Observation?_total=accurate")["total"] == 5
    assert search(fhir, "Observation?_total=estimate")["total"] == 5
    search(fhir, "Observation?_total=maybe", status=400)
    search(fhir, "Observation?_count=-1", status=400)


def test_summary_and_elements(store, fhir):
    store(observation(value=5, text={"status": "generated", "div": "<div>x</div>"}, note=[{"text": "n"}]), id="o1")
    full = search(fhir, "Observation?_summary=false")["entry"][0]["resource"]
    assert "note" in full and "text" in full and SUBSETTED not in str(full.get("meta"))
    summary = search(fhir, "Observation?_summary=true")["entry"][0]["resource"]
    assert "note" not in summary and "text" not in summary and "valueQuantity" in summary and "code" in summary
    assert any(t["code"] == SUBSETTED for t in summary["meta"]["tag"])
    text = search(fhir, "Observation?_summary=text")["entry"][0]["resource"]
    assert set(text) == {"resourceType", "id", "meta", "text", "status", "code"}
    data = search(fhir, "Observation?_summary=data")["entry"][0]["resource"]
    assert "text" not in data and "note" in data
    count = search(fhir, "Observation?_summary=count")
    assert count["total"] == 1 and "entry" not in count
    elements = search(fhir, "Observation?_elements=subject,valueQuantity")["entry"][0]["resource"]
    assert set(elements) == {"resourceType", "id", "meta", "subject", "valueQuantity", "status", "code"}
    assert any(t["code"] == SUBSETTED for t in elements["meta"]["tag"])
    search(fhir, "Observation?_summary=everything", status=400)


def test_include_revinclude_iterate_and_wildcard(store, fhir):
    store({"resourceType": "Organization", "name": "Acme"}, id="org")
    store({"resourceType": "Patient", "managingOrganization": {"reference": "Organization/org"}}, id="p1")
    store({"resourceType": "Practitioner"}, id="dr")
    store(observation(patient="p1", performer=[{"reference": "Practitioner/dr"}]), id="o1")
    store(
        {
            "resourceType": "DiagnosticReport",
            "status": "final",
            "code": {"text": "CBC"},
            "subject": {"reference": "Patient/p1"},
            "result": [{"reference": "Observation/o1"}],
        },
        id="r1",
    )
    bundle = search(fhir, "Observation?_include=Observation:patient")
    assert ids(bundle) == ["o1"] and ids(bundle, "include") == ["p1"]
    assert set(ids(search(fhir, "Observation?_include=*"), "include")) == {"p1", "dr"}
    assert ids(search(fhir, "Observation?_include=Observation:performer:Organization"), "include") == []
    assert set(
        ids(search(fhir, "Observation?_include=Observation:patient&_include:iterate=Patient:organization"), "include")
    ) == {"p1", "org"}
    assert ids(search(fhir, "Observation?_include=Observation:patient&_include=Patient:organization"), "include") == [
        "p1"
    ]
    assert ids(search(fhir, "Patient?_revinclude=Observation:subject"), "include") == ["o1"]
    assert set(
        ids(
            search(fhir, "Patient?_revinclude=Observation:subject&_revinclude:iterate=DiagnosticReport:result"),
            "include",
        )
    ) == {"o1", "r1"}
    assert set(ids(search(fhir, "Patient?_revinclude=*"), "include")) == {"o1", "r1"}
    search(fhir, "Observation?_include=patient", status=400)


def test_contained_resources(store, fhir):
    store(
        {
            "resourceType": "MedicationRequest",
            "status": "active",
            "intent": "order",
            "subject": {"reference": "Patient/p1"},
            "contained": [
                {
                    "resourceType": "Medication",
                    "id": "m",
                    "code": {"coding": [{"system": "http://rxnorm", "code": "1049502"}]},
                }
            ],
            "medicationReference": {"reference": "#m"},
        },
        id="rx",
    )
    store(
        {"resourceType": "Medication", "code": {"coding": [{"system": "http://rxnorm", "code": "1049502"}]}}, id="med"
    )
    assert idset(fhir, "Medication?code=1049502") == {"med"}
    container = search(fhir, "Medication?code=1049502&_contained=true")
    assert ids(container) == ["rx"]
    contained = search(fhir, "Medication?code=1049502&_contained=true&_containedType=contained")
    assert ids(contained) == ["m"] and contained["entry"][0]["fullUrl"].endswith("MedicationRequest/rx#m")
    assert idset(fhir, "Medication?code=1049502&_contained=both") == {"rx", "med"}


def test_post_search_is_identical_to_get(store, fhir):
    store(observation(date="2026-01-01"), id="o1")
    store(observation("2345-7", date="2026-01-02"), id="o2")
    query = [("code", "718-7,2345-7"), ("date", "ge2026-01-01"), ("_sort", "-date")]
    got = search(fhir, "Observation?" + urlencode(query))
    posted = fhir.client.post(
        "/fhir/Observation/_search", data=urlencode(query), content_type="application/x-www-form-urlencoded"
    )
    assert posted.status_code == 200
    assert ids(posted.json()) == ids(got) == ["o2", "o1"]
    mixed = fhir.client.post(
        "/fhir/Observation/_search?code=2345-7",
        data="date=ge2026-01-01",
        content_type="application/x-www-form-urlencoded",
    )
    assert ids(mixed.json()) == ["o2"]


def test_system_and_compartment_search(store, fhir):
    store({"resourceType": "Patient", "meta": {"tag": [{"code": "t"}]}}, id="p1")
    store({"resourceType": "Patient"}, id="p2")
    store(observation(patient="p1", meta={"tag": [{"code": "t"}]}), id="o1")
    store(observation(patient="p2"), id="o2")
    store(
        {
            "resourceType": "Encounter",
            "status": "finished",
            "class": {"code": "AMB"},
            "subject": {"reference": "Patient/p1"},
        },
        id="e1",
    )
    assert idset(fhir, "/fhir?_type=Patient,Observation&_tag=t") == {"p1", "o1"}
    assert idset(fhir, "/fhir?_tag=t") == {"p1", "o1"}
    assert idset(fhir, "/fhir?_id=o2") == {"o2"}
    assert idset(fhir, "Patient/p1/Observation") == {"o1"}
    assert idset(fhir, "Patient/p1/Observation?code=2345-7") == set()
    assert idset(fhir, "Patient/p2/Observation") == {"o2"}
    assert idset(fhir, "Patient/p1/*") == {"p1", "o1", "e1"}
    search(fhir, "/fhir?_type=Nonsense", status=400)


def test_unknown_parameters_are_ignored_or_rejected_when_strict(store, fhir):
    store(observation(), id="o1")
    bundle = search(fhir, "Observation?nonsense=1&code=718-7")
    assert ids(bundle) == ["o1"]
    assert "nonsense" not in _link(bundle, "self") and "code=718-7" in _link(bundle, "self")
    assert [e["resource"]["resourceType"] for e in bundle["entry"] if e["search"]["mode"] == "outcome"] == [
        "OperationOutcome"
    ]
    strict = search(fhir, "Observation?nonsense=1", status=400, prefer="handling=strict")
    assert "nonsense" in strict["issue"][0]["diagnostics"]
    assert ids(search(fhir, "Observation?code=718-7", prefer="handling=lenient")) == ["o1"]


def test_filtered_paging_in_id_order_walks_every_match_once(store, fhir):
    for i in range(9):
        store(observation("718-7" if i % 3 else "2345-7", patient="p1", date=f"2026-01-{10 + i}"), id=f"o{i}")
    matching = {f"o{i}" for i in range(9) if i % 3}  # six Hb results
    first = search(fhir, "Observation?code=718-7&patient=p1&_count=4")
    assert len(ids(first)) == 4 and first["total"] == 6
    second = _follow(fhir, _link(first, "next"))
    assert set(ids(first)) | set(ids(second)) == matching and not set(ids(first)) & set(ids(second))
    assert _link(second, "next") is None
    assert ids(_follow(fhir, _link(second, "previous"))) == ids(first)
    assert ids(_follow(fhir, _link(first, "last"))) == sorted(matching, key=lambda i: int(i[1:]))[-4:]  # the last four
    store(observation("718-7", patient="p1"), id="late")  # created after the first page: comes last
    assert ids(_follow(fhir, _link(first, "next"))) == ids(second) + ["late"]
