"""US Core / Inferno search rules over HTTP (issue 16): Provenance revincludes on every type and a
CapabilityStatement that lists them, POST _search = GET, `patient=123` = `patient=Patient/123`, and
every US Core lab combination with multiple-or status and each date comparator, against what the
data says the answer must be."""
from urllib.parse import urlencode

import pytest

from fhirserver.search.values import date_range

from .helpers import CATEGORY, LOINC, q, search
from .test_us_core_lab import DATES, V2_0074, lab_data  # noqa: F401  (the fixture)

STATUSES = ("final", "amended", "preliminary")


def _bundle_view(bundle: dict) -> tuple:
    """What a client reads of a searchset: total, the entries in order, and the paging relations."""
    entries = [(e["resource"]["resourceType"], e["resource"]["id"], e["search"]["mode"])
               for e in bundle.get("entry", [])]
    return bundle.get("total"), entries, sorted(link["relation"] for link in bundle.get("link", []))


def _post_search(fhir, resource_type: str, pairs: list[tuple[str, str]], query: str = "") -> dict:
    response = fhir.client.post(f"/fhir/{resource_type}/_search{query}", data=urlencode(pairs),
                                content_type="application/x-www-form-urlencoded", HTTP_ACCEPT="application/fhir+json")
    assert response.status_code == 200, response.content[:300]
    return response.json()


def _expected(kind: str, patient: str, *, code=None, statuses=None, prefix=None, value=None) -> set[str]:
    """The ids lab_data stores that a US Core search must return (current versions only: obs0 of
    patient 85 is a vital sign now)."""
    out = set()
    pids = ("85", "86")
    n = 0
    for pid in pids:
        for i, when in enumerate(DATES):
            rid = f"{'obs' if kind == 'Observation' else 'dr'}{n}"
            n += 1
            if pid != patient or (kind == "Observation" and rid == "obs0"):
                continue
            codes = ("718-7", "2345-7") if kind == "Observation" else ("58410-2", "51990-0")
            if code and codes[i % 2] != code:
                continue
            if statuses and STATUSES[i % 3] not in statuses:
                continue
            if prefix and not _in(when, prefix, value):
                continue
            out.add(rid)
    return out


def _in(when: str, prefix: str, value: str) -> bool:
    low, high = date_range(when)
    slow, shigh = date_range(value)
    return {"gt": high > shigh, "lt": low < slow, "ge": high > shigh or (low >= slow and high <= shigh),
            "le": low < slow or (low >= slow and high <= shigh)}[prefix]


def _ids(bundle: dict) -> set[str]:
    return {e["resource"]["id"] for e in bundle.get("entry", []) if e["search"]["mode"] == "match"}


OBS_CATEGORY = f"{CATEGORY}|laboratory"
DR_CATEGORY = f"{V2_0074}|LAB"


def _combinations():
    """(type, pairs, expected kwargs) for every US Core lab combination, each date comparator and a
    multiple-or status."""
    out = []
    for patient in ("85", "Patient/85"):
        out += [
            ("Observation", [("patient", patient), ("category", OBS_CATEGORY)], {}),
            ("Observation", [("patient", patient), ("code", f"{LOINC}|2345-7")], {"code": "2345-7"}),
            ("Observation", [("patient", patient), ("category", OBS_CATEGORY), ("status", "final,amended")],
             {"statuses": ("final", "amended")}),
            ("Observation", [("patient", patient), ("category", "laboratory"), ("status", "preliminary,final")],
             {"statuses": ("preliminary", "final")}),
            ("DiagnosticReport", [("patient", patient)], {}),
            ("DiagnosticReport", [("patient", patient), ("category", DR_CATEGORY)], {}),
            ("DiagnosticReport", [("patient", patient), ("code", f"{LOINC}|58410-2")], {"code": "58410-2"}),
            ("DiagnosticReport", [("patient", patient), ("status", "final,preliminary")],
             {"statuses": ("final", "preliminary")}),
        ]
        for prefix in ("gt", "ge", "lt", "le"):
            for value in ("2026-01-15T09:00:00-05:00", "2026-02", "2026-01-01T00:00:00Z"):
                date = [("date", prefix + value)]
                out += [
                    ("Observation", [("patient", patient), ("category", OBS_CATEGORY)] + date,
                     {"prefix": prefix, "value": value}),
                    ("Observation", [("patient", patient), ("code", f"{LOINC}|718-7")] + date,
                     {"code": "718-7", "prefix": prefix, "value": value}),
                    ("DiagnosticReport", [("patient", patient), ("category", DR_CATEGORY)] + date,
                     {"prefix": prefix, "value": value}),
                ]
        # a date range: two comparators together
        out.append(("Observation", [("patient", patient), ("category", OBS_CATEGORY), ("date", "ge2026-01-01"),
                                    ("date", "lt2026-03")], {"prefix": "ge", "value": "2026-01-01", "also": "2026-03"}))
    return out


@pytest.mark.parametrize("resource_type, pairs, expected", _combinations())
def test_us_core_lab_combination_get_and_post(lab_data, fhir, resource_type, pairs, expected):  # noqa: F811
    expected = dict(expected)
    also = expected.pop("also", None)
    want = _expected(resource_type, "85", **expected)
    if also:
        want &= {i for i in want if _in(DATES[int(i[3:]) % 4], "lt", also)}
    got = search(fhir, f"{resource_type}?{urlencode(pairs)}")
    assert _ids(got) == want, pairs
    assert got["total"] == len(want)
    posted = _post_search(fhir, resource_type, pairs)
    assert _bundle_view(posted)[:2] == _bundle_view(got)[:2]


def test_post_search_pages_and_counts_as_get(lab_data, fhir):  # noqa: F811
    pairs = [("patient", "85"), ("_count", "1"), ("_sort", "date")]
    got = search(fhir, f"Observation?{urlencode(pairs)}")
    posted = _post_search(fhir, "Observation", pairs)
    assert _bundle_view(posted) == _bundle_view(got) and got["total"] == 4 and len(got["entry"]) == 1
    # the next page the POST answer links to gives what GET's next page gives
    following = {link["relation"]: link["url"] for link in posted["link"]}["next"]
    assert following == {link["relation"]: link["url"] for link in got["link"]}["next"]
    # parameters split between the URL and the body are one search
    split = _post_search(fhir, "Observation", [("category", OBS_CATEGORY)], "?patient=85&_summary=count")
    assert split["total"] == search(fhir, f"Observation?patient=85&category={q(OBS_CATEGORY)}&_summary=count")["total"]
    assert _post_search(fhir, "Observation", [("patient", "85"), ("_summary", "count")])["total"] == 4


@pytest.mark.parametrize("resource_type", ["Patient", "Observation", "DiagnosticReport", "Encounter", "Condition",
                                           "Practitioner", "Organization", "Immunization", "DocumentReference"])
def test_revinclude_provenance_target_on_every_type(store, fhir, resource_type):
    target = store({"resourceType": "Patient", "id": "x"}, id="px") if resource_type == "Patient" else None
    minimal = {
        "Observation": {"status": "final", "code": {"text": "x"}},
        "DiagnosticReport": {"status": "final", "code": {"text": "x"}},
        "Encounter": {"status": "finished", "class": {"code": "AMB"}},
        "Condition": {"subject": {"reference": "Patient/px"}},
        "Immunization": {"status": "completed", "vaccineCode": {"text": "x"}, "patient": {"reference": "Patient/px"},
                         "occurrenceDateTime": "2026-01-01"},
        "DocumentReference": {"status": "current", "content": [{"attachment": {"title": "x"}}]},
    }
    if target is None:
        store({"resourceType": "Patient"}, id="px")
        target = store({"resourceType": resource_type, **minimal.get(resource_type, {})}, id="t1")
    store({"resourceType": "Provenance", "target": [{"reference": f"{resource_type}/{target['id']}"}],
           "recorded": "2026-03-02T00:00:00Z", "agent": [{"who": {"reference": "Patient/px"}}]}, id="prov-t")
    store({"resourceType": "Provenance", "target": [{"reference": "Patient/elsewhere"}],
           "recorded": "2026-03-02T00:00:00Z", "agent": [{"who": {"reference": "Patient/px"}}]}, id="prov-other")
    bundle = search(fhir, f"{resource_type}?_id={target['id']}&_revinclude=Provenance:target")
    assert [(e["resource"]["id"], e["search"]["mode"]) for e in bundle["entry"]] == [
        (target["id"], "match"), ("prov-t", "include")]


def test_capability_statement_lists_what_includes_work(fhir):
    statement = fhir.get("metadata").json()
    resources = {r["type"]: r for r in statement["rest"][0]["resource"]}
    for resource_type in ("Patient", "Observation", "DiagnosticReport", "Encounter", "Condition", "Practitioner"):
        assert "Provenance:target" in resources[resource_type]["searchRevInclude"], resource_type
    assert "DiagnosticReport:result" in resources["DiagnosticReport"]["searchInclude"]
    assert "Observation:patient" in resources["Observation"]["searchInclude"]
    assert "Observation:subject" in resources["Patient"]["searchRevInclude"]
    assert "DiagnosticReport:result" in resources["Observation"]["searchRevInclude"]
    # every listed include names a reference parameter of the type (nothing listed that would be ignored)
    for resource_type, entry in resources.items():
        params = {p["name"]: p["type"] for p in entry.get("searchParam", [])}
        for include in entry.get("searchInclude", []):
            if include != "*":
                source, _, name = include.partition(":")
                assert source == resource_type and params.get(name.split(":")[0]) == "reference", include
