"""The leakage matrix: a token confined to Patient/a never gets anything of Patient/b.

Every interaction, every search parameter family, includes, chains, _has, history at three
levels, operations, transactions and batches. A refusal (403/404) is fine; a success must carry
none of b's data, and the same request for a's data must succeed (so 'nothing' is not 'broken').
"""
import json

import pytest

pytestmark = pytest.mark.django_db

B_MARKERS = ("Patient/b", "lab-b", "vital-b", "cond-b", "rep-b", "enc-b", "FamilyB", "mrn-b")
LAB = "http://terminology.hl7.org/CodeSystem/observation-category|laboratory"


def _without_links(node):
    """Drop Bundle.link (it only echoes the query the caller sent) at any depth."""
    if isinstance(node, dict):
        return {
            k: _without_links(v) for k, v in node.items() if not (k == "link" and node.get("resourceType") == "Bundle")
        }
    if isinstance(node, list):
        return [_without_links(v) for v in node]
    return node


def leaked(response) -> list[str]:
    """b's markers in the data returned."""
    text = json.dumps(_without_links(response.json()))
    return [m for m in B_MARKERS if m in text]


def assert_nothing_of_b(response):
    assert response.status_code in (200, 403, 404), (response.status_code, response.content[:300])
    if response.status_code == 200:
        assert not leaked(response), leaked(response)


def ids(response) -> set[str]:
    assert response.status_code == 200, response.content[:400]
    return {e["resource"]["id"] for e in response.json().get("entry", []) if "resource" in e}


READS = [
    "Patient/b",
    "Observation/lab-b",
    "Observation/vital-b",
    "Encounter/enc-b",
    "Condition/cond-b",
    "DiagnosticReport/rep-b",
    "Observation/lab-b/_history/1",
    "Observation/lab-b/_history/2",
    "Observation/lab-b/_history",
    "Patient/b/_history",
]


@pytest.mark.parametrize("path", READS)
def test_read_vread_instance_history_of_b_refused(as_a, path):
    response = as_a.get(path)
    assert response.status_code == 403, path
    assert response.json()["resourceType"] == "OperationOutcome"
    own = as_a.get(path.replace("lab-b", "lab-a").replace("vital-b", "vital-a").replace("enc-b", "enc-a")
                   .replace("cond-b", "cond-a").replace("rep-b", "rep-a").replace("Patient/b", "Patient/a"))
    assert own.status_code == 200


SEARCHES = [
    # (query, the ids a's token must get) — one row per parameter family and search feature
    ("Patient?name=FamilyB", set()),  # string
    ("Patient?family:exact=FamilyB", set()),
    ("Patient?identifier=urn:mrn|mrn-b", set()),  # token
    ("Patient?gender=female", {"a"}),
    ("Observation?code=http://loinc.org|2345-7", {"lab-a"}),
    ("Observation?category=" + LAB, {"lab-a"}),
    ("Observation?subject=Patient/b", set()),  # reference
    ("Observation?patient=b", set()),
    ("Observation?date=2024-01-02", {"lab-a", "vital-a"}),  # date
    ("Observation?value-quantity=5.5", {"lab-a"}),  # quantity
    ("Observation?code-value-quantity=http://loinc.org|2345-7$5.5", {"lab-a"}),  # composite
    ("Observation?_id=lab-a,lab-b", {"lab-a"}),  # _id
    ("Observation?_lastUpdated=gt2000-01-01", {"lab-a", "vital-a"}),
    ("Observation?subject.name=FamilyB", set()),  # chain
    ("Observation?subject:Patient.identifier=mrn-b", set()),
    ("Patient?_has:Observation:subject:code=2345-7", {"a"}),  # _has
    ("Patient/a/Observation", {"lab-a", "vital-a"}),  # compartment search
    ("Observation?_include=Observation:subject", {"lab-a", "vital-a", "a"}),  # _include
    ("DiagnosticReport?_include=DiagnosticReport:result", {"rep-a", "lab-a"}),
    ("Observation?_include=Observation:encounter&_include=Observation:subject", {"lab-a", "vital-a", "a", "enc-a"}),
    ("Patient?_revinclude=Observation:subject", {"a", "lab-a", "vital-a"}),  # _revinclude
    ("Encounter?_revinclude=Observation:encounter", {"enc-a", "lab-a"}),
    ("Patient?_revinclude=*", None),
    ("Observation?_include=*", None),
    ("?_type=Observation,Patient", {"a", "lab-a", "vital-a"}),  # system search
    ("Observation?_content=Glucose", {"lab-a"}),
]


@pytest.mark.parametrize("query, expected", SEARCHES, ids=[q for q, _ in SEARCHES])
def test_searches_see_only_a(as_a, query, expected):
    response = as_a.get(query)
    assert_nothing_of_b(response)
    if expected is not None:
        assert ids(response) == expected


def test_compartment_search_of_b_refused(as_a):
    assert as_a.get("Patient/b/Observation").status_code == 403
    assert as_a.get("Patient/b/*").status_code == 403


def test_post_search_sees_only_a(as_a, fhir):
    response = as_a.post("Observation/_search", "subject=Patient/b", content_type="application/x-www-form-urlencoded")
    assert_nothing_of_b(response)
    assert ids(as_a.post("Observation/_search", "code=2345-7", content_type="application/x-www-form-urlencoded")) == {
        "lab-a"
    }


@pytest.mark.parametrize("path", ["Observation/_history", "_history", "Patient/_history"])
def test_type_and_system_history_only_a(as_a, path):
    response = as_a.get(path)
    assert_nothing_of_b(response)
    assert response.status_code == 200
    assert response.json()["entry"], "a's own versions must be there"


def test_everything(as_a):
    assert as_a.get("Patient/b/$everything").status_code == 403
    own = as_a.get("Patient/a/$everything")
    assert_nothing_of_b(own)
    assert {"a", "lab-a", "enc-a"} <= ids(own)
    assert_nothing_of_b(as_a.get("Patient/$everything"))


def test_lastn(as_a):
    assert as_a.get("Observation/$lastn?patient=Patient/b").status_code == 403
    response = as_a.get("Observation/$lastn?category=" + LAB)
    assert_nothing_of_b(response)


def test_writes_to_b_refused(as_a, two_patients):
    lab_b = next(r for r in two_patients["b"] if r["id"] == "lab-b")
    assert as_a.put("Observation/lab-b", {**lab_b, "status": "cancelled"}).status_code == 403
    assert (
        as_a.patch("Observation/lab-b", [{"op": "replace", "path": "/status", "value": "cancelled"}]).status_code == 403
    )
    assert as_a.delete("Observation/lab-b").status_code == 403
    new_for_b = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "x"},
        "subject": {"reference": "Patient/b"},
    }
    assert as_a.post("Observation", new_for_b).status_code == 403
    assert as_a.post("Patient", {"resourceType": "Patient", "name": [{"family": "New"}]}).status_code == 403
    # moving a's resource into b's compartment is a write to b
    lab_a = as_a.get("Observation/lab-a").json()
    assert as_a.put("Observation/lab-a", {**lab_a, "subject": {"reference": "Patient/b"}}).status_code == 403
    # b's result is no match for a's condition, and its id is taken: refused either way
    assert as_a.put("Observation?_id=lab-b", {**lab_b, "status": "cancelled"}).status_code in (403, 409)
    # a's own writes go through
    assert as_a.post("Observation", {**new_for_b, "subject": {"reference": "Patient/a"}}).status_code == 201


def test_transaction_entries_are_checked(as_a):
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"request": {"method": "GET", "url": "Observation/lab-a"}},
        {"request": {"method": "GET", "url": "Observation/lab-b"}},
    ]}
    response = as_a.post("", bundle)
    assert response.status_code == 403
    assert_nothing_of_b(response)
    write_b = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": "urn:uuid:1",
                "resource": {
                    "resourceType": "Observation",
                    "status": "final",
                    "code": {"text": "x"},
                    "subject": {"reference": "Patient/b"},
                },
                "request": {"method": "POST", "url": "Observation"},
            }
        ],
    }
    assert as_a.post("", write_b).status_code == 403


def test_batch_entries_are_checked(as_a):
    bundle = {"resourceType": "Bundle", "type": "batch", "entry": [
        {"request": {"method": "GET", "url": "Observation/lab-a"}},
        {"request": {"method": "GET", "url": "Observation/lab-b"}},
        {"request": {"method": "GET", "url": "Observation?subject=Patient/b"}},
        {"request": {"method": "GET", "url": "Patient/b/_history"}},
        {"request": {"method": "DELETE", "url": "Observation/vital-b"}},
    ]}
    response = as_a.post("", bundle)
    assert response.status_code == 200
    assert not leaked(response)
    statuses = [e["response"]["status"] for e in response.json()["entry"]]
    assert statuses[0].startswith("200") and statuses[1].startswith("403") and statuses[4].startswith("403")
    history_of_b = response.json()["entry"][3]
    assert statuses[3].startswith("403") or history_of_b["resource"]["entry"] == []
    for entry in response.json()["entry"]:
        assert not any(m in json.dumps(_without_links(entry.get("resource", {}))) for m in B_MARKERS)


def test_audit_log_closed_to_patient_apps(as_a):
    assert as_a.get("AuditEvent").status_code == 403
    assert as_a.get("AuditEvent?patient=b").status_code == 403


def test_conditional_create_does_not_return_b(as_a):
    observation = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "x"},
        "subject": {"reference": "Patient/a"},
    }
    direct = as_a.post("Observation", observation, **{"If-None-Exist": "_id=lab-b", "Prefer": "return=representation"})
    # the condition is evaluated within what the token may see: b's result is no match, so a's is created
    assert direct.status_code == 201 and "lab-b" not in direct.content.decode()
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": "urn:uuid:1",
                "resource": observation,
                "request": {"method": "POST", "url": "Observation", "ifNoneExist": "_id=lab-b"},
            }
        ],
    }
    in_transaction = as_a.post("", bundle, Prefer="return=representation")
    assert in_transaction.status_code == 200 and "lab-b" not in in_transaction.content.decode()
    own = as_a.post("Observation", observation, **{"If-None-Exist": "_id=lab-a"})
    assert own.status_code == 200  # a's own match is a's to see
