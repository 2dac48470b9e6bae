"""Confirm is guarded, rows can be accepted, removed and added, and a confirmed report can be amended:
Django's client over reports read by the real reader, what was stored checked through the FHIR API."""
from __future__ import annotations

from decimal import Decimal

import pytest

from fhirserver.security.models import FhirUser
from review.verification import reasons_to_check

from .helpers import confidence_of, fhir_get, form_of, machine_doubt, security_codes


def post(reviewer, job, action: str, **changes):
    return reviewer.post(f"/review/jobs/{job.id}", form_of(job, action, **changes), follow=True)


def provenances(reviewer, target: str, activity: str) -> list[dict]:
    bundle = fhir_get(reviewer, f"Provenance?target={target}")
    found = [e["resource"] for e in bundle.get("entry", [])]
    return [p for p in found if p["activity"]["coding"][0]["code"] == activity]


# --- what makes a row one to check ---------------------------------------------------------------
def test_reasons_to_check_follow_the_contract():
    from ingestion.fhir_mapping.codes import EXT_AI_CONFIDENCE, EXT_FLAG_DISAGREES, EXT_REVIEW_REASON

    sure = {"valueQuantity": {"value": 5}, "extension": [{"url": EXT_AI_CONFIDENCE, "valueDecimal": 0.99}]}
    assert reasons_to_check(sure, "5") == []
    assert reasons_to_check({**sure, "extension": [{"url": EXT_AI_CONFIDENCE, "valueDecimal": 0.5}]}, "5") == [
        "read with confidence 0.50 (below 0.9)"]
    reason = "unit mg/dL does not fit LOINC 14749-6 (substance concentration)"
    assert reasons_to_check({**sure, "extension": sure["extension"] + [{"url": EXT_REVIEW_REASON,
                                                                         "valueString": reason}]}, "5") == [reason]
    assert "flag" in reasons_to_check({**sure, "extension": [{"url": EXT_FLAG_DISAGREES, "valueBoolean": True}]})[0]
    # a printed value kept as text, or not readable: no valueQuantity where a value was printed
    assert "'12..5'" in reasons_to_check({"valueString": "12..5"})[0]
    assert "'1?.4'" in reasons_to_check({"dataAbsentReason": {"text": "1?.4"}}, "1?.4")[0]
    assert reasons_to_check({"valueString": "Negative"}, "Negative") == []  # a result word is a value
    assert reasons_to_check({"dataAbsentReason": {}}, "") == []  # nothing was printed
    verified = {**sure, "extension": [{"url": EXT_AI_CONFIDENCE, "valueDecimal": 0.5}],
                "meta": {"security": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
                                       "code": "CLINAST"}]}}
    assert reasons_to_check(verified, "5") == []  # a person has looked at it


# --- confirm is guarded ----------------------------------------------------------------------------
def test_confirm_is_refused_while_a_row_is_to_check_and_nothing_is_written(reviewer, read_job):
    job, _ = read_job
    doubtful = job.rows[2]["observation"]
    machine_doubt(reviewer, doubtful, confidence=0.55)
    machine_doubt(reviewer, job.rows[4]["observation"], reason="glucose range looks like haemoglobin's")
    page = reviewer.get(f"/review/jobs/{job.id}").content.decode()
    assert "2 rows to check before confirming" in page
    assert page.count('class="result') and 'id="accept-2"' in page and 'id="accept-4"' in page
    assert "haemoglobin" in page.split('id="row-4"')[1].split("</tr>")[0]
    answer = post(reviewer, job, "confirm")
    text = answer.content.decode()
    assert "2 rows need a decision before confirming" in text and "row 3 (" in text and "row 5 (" in text
    assert fhir_get(reviewer, job.diagnostic_report)["status"] == "preliminary"
    assert fhir_get(reviewer, doubtful)["meta"]["versionId"] == "2"  # only the test's own change
    # one resolved is not enough
    answer = post(reviewer, job, "confirm", accept_2="on")
    assert "1 row needs a decision" in answer.content.decode()
    assert fhir_get(reviewer, job.diagnostic_report)["status"] == "preliminary"


def test_accept_correct_and_confirm_label_what_a_person_verified(reviewer, read_job, clinician):
    job, truth = read_job
    accepted, corrected = job.rows[2]["observation"], job.rows[4]["observation"]
    machine_doubt(reviewer, accepted, confidence=0.55)
    machine_doubt(reviewer, corrected, confidence=0.42, reason="value is implausible for this test")
    new_value = str(truth.rows[4].value + Decimal(1))
    answer = post(reviewer, job, "confirm", accept_2="on", value_4=new_value)
    assert "Confirmed" in answer.content.decode() and "1 corrected" in answer.content.decode()
    report = fhir_get(reviewer, job.diagnostic_report)
    assert report["status"] == "final" and {"AIAST", "CLINAST"} <= security_codes(report)
    kept = fhir_get(reviewer, accepted)  # the machine's value, verified by a person
    assert kept["status"] == "final" and security_codes(kept) == {"AIAST", "CLINAST"} and confidence_of(kept) == 0.55
    mine = fhir_get(reviewer, corrected)  # the person's value: theirs alone
    assert mine["status"] == "final" and security_codes(mine) == {"CLINAST"} and confidence_of(mine) is None
    assert not [e for e in mine.get("extension", []) if e["url"].endswith("digitize-review-reason")]
    assert Decimal(str(mine["valueQuantity"]["value"])) == Decimal(new_value)
    machine = fhir_get(reviewer, f"{corrected}/_history/2")  # what the machine read stays in the history
    assert security_codes(machine) == {"AIAST"} and confidence_of(machine) == 0.42
    assert Decimal(str(machine["valueQuantity"]["value"])) == truth.rows[4].value
    other = fhir_get(reviewer, job.rows[0]["observation"])
    assert other["status"] == "final" and security_codes(other) == {"AIAST", "CLINAST"}
    [verify] = provenances(reviewer, corrected, "verify")
    practitioner = FhirUser.objects.get(user=clinician).resource
    assert verify["agent"] == [{"type": verify["agent"][0]["type"], "who": {"reference": practitioner,
                                                                            "display": "Meredith Grey"}}]
    assert {"role": "revision", "what": {"reference": f"{corrected}/_history/2"}} in verify["entity"]


def test_saved_acceptance_and_correction_resolve_a_row_for_a_later_confirm(reviewer, read_job):
    job, truth = read_job
    machine_doubt(reviewer, job.rows[1]["observation"], confidence=0.3)
    machine_doubt(reviewer, job.rows[3]["observation"], confidence=0.3)
    post(reviewer, job, "save", accept_1="on", value_3=str(truth.rows[3].value + 1))
    assert "No rows left to check" in reviewer.get(f"/review/jobs/{job.id}").content.decode()
    saved = fhir_get(reviewer, job.rows[1]["observation"])
    assert saved["status"] == "preliminary" and "CLINAST" in security_codes(saved)
    post(reviewer, job, "confirm")
    assert fhir_get(reviewer, job.diagnostic_report)["status"] == "final"


# --- removing and adding rows -------------------------------------------------------------------------
def test_removing_a_row_makes_it_entered_in_error_and_takes_it_off_the_report(reviewer, read_job):
    job, truth = read_job
    removed = job.rows[3]["observation"]
    machine_doubt(reviewer, removed, confidence=0.2)
    answer = post(reviewer, job, "confirm", remove_3="on")
    assert "1 removed" in answer.content.decode()
    assert fhir_get(reviewer, removed)["status"] == "entered-in-error"
    report = fhir_get(reviewer, job.diagnostic_report)
    assert report["status"] == "final" and removed not in [r["reference"] for r in report["result"]]
    assert len(report["result"]) == len(truth.rows) - 1
    page = reviewer.get(f"/review/jobs/{job.id}").content.decode()
    assert page.count('<tr class="result') == len(truth.rows) - 1
    searched = fhir_get(reviewer, f"Observation?_id={removed.split('/')[1]}&status=final")
    assert searched.get("total", len(searched.get("entry", []))) == 0


def test_a_missing_result_is_added_from_the_terminology(reviewer, read_job):
    job, truth = read_job
    tests = reviewer.get("/review/api/loinc?q=hemoglobin a1c").json()["tests"]
    assert any(t["loinc"] == "4548-4" for t in tests)
    answer = reviewer.post(f"/review/jobs/{job.id}", {**form_of(job, "confirm"), "new-0-name": "HbA1c",
                                                       "new-0-loinc": "4548-4", "new-0-value": "7.1",
                                                       "new-0-unit": "%", "new-0-range": "4.0-5.6",
                                                       "new-0-flag": "H", "new-1-name": ""}, follow=True)
    assert "1 added" in answer.content.decode()
    report = fhir_get(reviewer, job.diagnostic_report)
    assert len(report["result"]) == len(truth.rows) + 1
    added = fhir_get(reviewer, report["result"][-1]["reference"])
    assert added["status"] == "final" and added["code"]["coding"][0]["code"] == "4548-4"
    assert added["valueQuantity"]["value"] == 7.1 and added["valueQuantity"]["code"] == "%"
    assert added["referenceRange"][0]["high"]["value"] == 5.6 and added["interpretation"][0]["coding"][0]["code"] == "H"
    assert security_codes(added) == {"CLINAST"} and confidence_of(added) is None
    assert added["subject"] == report["subject"] and added["derivedFrom"] == [
        {"reference": f"DocumentReference/{job.document_reference_id}"}]
    page = reviewer.get(f"/review/jobs/{job.id}").content.decode()
    assert page.count('<tr class="result') == len(truth.rows) + 1 and "entered by a person" in page


def test_an_added_result_that_cannot_be_read_is_refused_with_nothing_written(reviewer, read_job):
    job, _ = read_job
    answer = reviewer.post(f"/review/jobs/{job.id}", {**form_of(job, "confirm"), "new-0-name": "Ferritin",
                                                       "new-0-value": "12..5"}, follow=True)
    assert "Added result (Ferritin)" in answer.content.decode()
    assert fhir_get(reviewer, job.diagnostic_report)["status"] == "preliminary"


# --- amending a confirmed report --------------------------------------------------------------------
def test_a_confirmed_report_is_amended_corrected_with_a_provenance(reviewer, read_job, clinician):
    job, truth = read_job
    post(reviewer, job, "confirm")
    target = job.rows[1]["observation"]
    page = reviewer.get(f"/review/jobs/{job.id}").content.decode()
    assert 'id="amend-link"' in page and 'id="confirm"' not in page
    assert 'readonly' in page.split('id="value-1"')[1].split(">")[0]
    assert 'id="amend"' in reviewer.get(f"/review/jobs/{job.id}?amend=1").content.decode()
    new_value = str(truth.rows[1].value + 2)
    answer = post(reviewer, job, "amend", value_1=new_value)
    assert "Amended: 1 corrected" in answer.content.decode()
    amended = fhir_get(reviewer, target)
    assert amended["status"] == "corrected" and amended["meta"]["versionId"] == "3"
    assert security_codes(amended) == {"CLINAST"} and confidence_of(amended) is None
    assert fhir_get(reviewer, f"{target}/_history/2")["status"] == "final"
    report = fhir_get(reviewer, job.diagnostic_report)
    assert report["status"] == "corrected"
    assert fhir_get(reviewer, job.rows[0]["observation"])["status"] == "final"  # untouched: no new version
    [amendment] = provenances(reviewer, target, "amend")
    practitioner = FhirUser.objects.get(user=clinician).resource
    assert [a["type"]["coding"][0]["code"] for a in amendment["agent"]] == ["author", "verifier"]
    assert all(a["who"]["reference"] == practitioner for a in amendment["agent"])
    assert {t["reference"] for t in amendment["target"]} == {target, job.diagnostic_report}
    assert {"role": "revision", "what": {"reference": f"{target}/_history/2"}} in amendment["entity"]
    assert "corrected" in reviewer.get(f"/review/jobs/{job.id}").content.decode()


@pytest.mark.parametrize("change, observation_status, report_status", [
    ({"name_1": "Renamed test"}, "amended", "amended"),
    ({"remove_1": "on"}, "entered-in-error", "corrected"),
])
def test_amendment_statuses(reviewer, read_job, change, observation_status, report_status):
    job, _ = read_job
    post(reviewer, job, "confirm")
    post(reviewer, job, "amend", **change)
    assert fhir_get(reviewer, job.rows[1]["observation"])["status"] == observation_status
    assert fhir_get(reviewer, job.diagnostic_report)["status"] == report_status


def test_an_amendment_that_only_adds_results_appends_to_the_report(reviewer, read_job):
    job, _ = read_job
    post(reviewer, job, "confirm")
    reviewer.post(f"/review/jobs/{job.id}", {**form_of(job, "amend"), "new-0-name": "Ferritin", "new-0-value": "40",
                                             "new-0-unit": "ng/mL"})
    report = fhir_get(reviewer, job.diagnostic_report)
    assert report["status"] == "appended"
    assert fhir_get(reviewer, report["result"][-1]["reference"])["status"] == "final"


def test_amend_is_only_for_confirmed_reports(reviewer, read_job):
    job, _ = read_job
    answer = post(reviewer, job, "amend", value_0="1")
    assert "only a confirmed report is amended" in answer.content.decode()
    assert 'id="amend"' not in reviewer.get(f"/review/jobs/{job.id}?amend=1").content.decode()


def test_the_job_status_shows_the_current_versions_after_review(reviewer, read_job):
    job, truth = read_job
    reviewer.post(f"/review/jobs/{job.id}", {**form_of(job, "confirm", value_0=str(truth.rows[0].value + 1)),
                                             "new-0-name": "Ferritin", "new-0-value": "40", "new-0-unit": "ng/mL"})
    response = reviewer.get(f"/fhir/_jobs/{job.id}")
    assert response.status_code == 200
    bundle = response.json()
    by_type: dict[str, list] = {}
    for entry in bundle["entry"]:
        by_type.setdefault(entry["resource"]["resourceType"], []).append(entry["resource"])
    assert [r["status"] for r in by_type["DiagnosticReport"]] == ["final"]
    observations = by_type["Observation"]
    assert len(observations) == len(truth.rows) + 1 and {o["status"] for o in observations} == {"final"}
    assert {o["meta"]["versionId"] for o in observations[:-1]} == {"2"} and observations[-1]["meta"]["versionId"] == "1"
    assert observations[0]["valueQuantity"]["value"] == float(truth.rows[0].value + 1)
    assert all(e["fullUrl"].startswith("http://testserver/fhir/") for e in bundle["entry"] if "fullUrl" in e)
