"""History at instance, type and system level: _since, _count and paging over a stable snapshot."""
import time
from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.django_db


def relative(url):
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def links(bundle):
    return {link["relation"]: link["url"] for link in bundle["link"]}


def test_instance_history_newest_first(fhir):
    fhir.put("Patient/h1", {"resourceType": "Patient", "id": "h1"})
    fhir.put("Patient/h1", {"resourceType": "Patient", "id": "h1", "gender": "male"})
    bundle = fhir.get("Patient/h1/_history").json()
    assert bundle["type"] == "history" and bundle["total"] == 2
    assert [e["resource"]["meta"]["versionId"] for e in bundle["entry"]] == ["2", "1"]
    assert bundle["entry"][0]["request"] == {"method": "PUT", "url": "Patient/h1"}
    assert bundle["entry"][1]["response"]["status"] == "201 Created"
    assert bundle["entry"][0]["fullUrl"] == "http://testserver/fhir/Patient/h1"
    assert fhir.get("Patient/unknown/_history").status_code == 404


def test_type_and_system_history(fhir):
    before = fhir.get("_history").json()["total"]  # migrations may store definitions (OperationDefinition)
    fhir.put("Patient/h2", {"resourceType": "Patient", "id": "h2"})
    fhir.put("Organization/o1", {"resourceType": "Organization", "id": "o1", "name": "Lab"})
    assert fhir.get("Patient/_history").json()["total"] == 1
    system = fhir.get("_history?_count=2").json()
    assert system["total"] == before + 2
    assert [e["resource"]["resourceType"] for e in system["entry"]] == ["Organization", "Patient"]


def test_since_filters_older_versions(fhir):
    fhir.put("Patient/h3", {"resourceType": "Patient", "id": "h3"})
    time.sleep(0.02)
    second = fhir.put("Patient/h3", {"resourceType": "Patient", "id": "h3", "gender": "male"}).json()
    since = second["meta"]["lastUpdated"]
    bundle = fhir.get(f"Patient/h3/_history?_since={since}").json()
    assert [e["resource"]["meta"]["versionId"] for e in bundle["entry"]] == ["2"]
    assert fhir.get("Patient/h3/_history?_since=yesterday").status_code == 400


def test_paging_is_stable_while_writes_go_on(fhir):
    for n in range(5):
        fhir.put(f"Patient/p{n}", {"resourceType": "Patient", "id": f"p{n}"})
    first = fhir.get("Patient/_history?_count=2").json()
    assert first["total"] == 5 and len(first["entry"]) == 2
    seen = [e["resource"]["id"] for e in first["entry"]]
    fhir.put("Patient/late", {"resourceType": "Patient", "id": "late"})  # must not shift the pages
    page = first
    while "next" in links(page):
        page = fhir.get(relative(links(page)["next"])).json()
        seen += [e["resource"]["id"] for e in page["entry"]]
    assert sorted(seen) == [f"p{n}" for n in range(5)]
    assert "previous" in links(page) and "first" in links(page) and "last" in links(page)


def test_bad_count(fhir):
    assert fhir.get("Patient/_history?_count=abc").status_code == 400


def test_history_at_keeps_the_versions_current_during_that_period(fhir):
    import time
    from urllib.parse import quote

    created = fhir.post("Patient", {"resourceType": "Patient", "gender": "female"}).json()
    pid, stamps = created["id"], [created["meta"]["lastUpdated"]]
    for gender in ("male", "other"):
        time.sleep(0.02)  # distinct millisecond lastUpdated per version
        stamps.append(
            fhir.put(f"Patient/{pid}", {"resourceType": "Patient", "id": pid, "gender": gender}).json()["meta"][
                "lastUpdated"
            ]
        )

    def versions(at):
        bundle = fhir.get(f"Patient/{pid}/_history?_at={quote(at)}").json()
        return sorted(int(e["resource"]["meta"]["versionId"]) for e in bundle["entry"])

    assert versions(stamps[0]) == [1]
    assert versions(stamps[1]) == [2]
    assert versions(stamps[2]) == [3]
    assert versions(stamps[0][:4]) == [1, 2, 3]  # the whole year
    assert versions("2000-01-01") == []
    bundle = fhir.get(f"Patient/_history?_at={quote(stamps[1])}").json()
    assert any(link["relation"] == "self" and "_at=" in link["url"] for link in bundle["link"])
    assert fhir.get("Patient/_history?_at=yesterday").status_code == 400
