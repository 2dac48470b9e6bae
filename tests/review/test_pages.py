"""The review pages over HTTP (Django's client) with reports read by the real reader: who may see
them, what they show, and what each decision stores (checked through the FHIR API)."""
from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model

from fhirserver.security.models import FhirUser
from ingestion.models import DigitizeJob
from review.selectors import document_review

from .conftest import read_report
from .helpers import fhir_get, form_of, machine_doubt


# --- who may use the pages -------------------------------------------------------------------------
def test_pages_ask_for_sign_in_with_the_servers_own_login(client, db):
    response = client.get("/review/")
    assert response.status_code == 302 and response["Location"].startswith("/oauth2/login?next=/review/")
    assert client.get("/review/api/loinc?q=glu").status_code == 401


def test_an_account_without_the_review_permission_is_refused(client, db):
    nurse = get_user_model().objects.create_user("reader", password="x")
    client.force_login(nurse)
    assert client.get("/review/").status_code == 403
    assert client.post("/review/upload", {}).status_code == 403
    assert client.get("/review/api/patients").status_code == 403


def test_sign_in_through_the_login_page_reaches_the_list(client, clinician):
    from .conftest import PASSWORD

    response = client.post("/oauth2/login", {"username": "dr.grey", "password": PASSWORD, "next": "/review/"})
    assert response.status_code == 302 and response["Location"] == "/review/"
    assert b"Awaiting review" in client.get("/review/").content


def test_create_clinician_links_a_practitioner(clinician):
    link = FhirUser.objects.get(user=clinician)
    assert link.resource.startswith("Practitioner/")
    assert clinician.has_perm("review.verify_lab_report") and clinician.groups.filter(name="clinician").exists()


# --- what the pages show ---------------------------------------------------------------------------
def test_list_shows_documents_newest_first_with_their_state(reviewer, read_job):
    job, truth = read_job
    other, _ = read_report("hospital-grid", 2)
    page = reviewer.get("/review/").content.decode()
    assert page.index(other.filename) < page.index(job.filename)
    assert page.count("awaiting review") >= 2 and truth.patient.family.title() in page.title()


def test_review_page_draws_a_box_for_every_result_and_serves_the_page_image(reviewer, read_job):
    job, truth = read_job
    page = reviewer.get(f"/review/jobs/{job.id}").content.decode()
    assert page.count('<rect class="region') == len(truth.rows) == len(job.rows)
    assert page.count('<tr class="result') == len(truth.rows)
    assert f'/review/jobs/{job.id}/pages/1.png' in page
    assert 'list="loinc-options"' in page and 'id="confirm"' in page
    image = reviewer.get(f"/review/jobs/{job.id}/pages/1.png")
    assert (
        image.status_code == 200 and image["Content-Type"] == "image/png" and image.content[:8] == b"\x89PNG\r\n\x1a\n"
    )
    from PIL import Image

    width, height = Image.open(io.BytesIO(image.content)).size
    assert f'viewBox="0 0 {width} {height}"' in page  # boxes and image share one pixel space
    assert reviewer.get(f"/review/jobs/{job.id}/pages/9.png").status_code == 404


def test_every_control_of_the_review_form_has_a_label(reviewer, read_job):
    import re

    job, _ = read_job
    page = reviewer.get(f"/review/jobs/{job.id}").content.decode()
    form = page.split('<form method="post" id="review-form">')[1]
    controls = re.findall(r'<(?:input|select|textarea)\b(?![^>]*type="hidden")[^>]*\bid="([^"]+)"', form)
    assert len(controls) > 6 * len(job.rows)
    labelled = set(re.findall(r'<label[^>]*\bfor="([^"]+)"', form))
    assert [c for c in controls if c not in labelled and not c.startswith("patient-")] == []
    assert all(
        f'id="{c}"' in form for c in ("patient-keep", "patient-existing", "patient-new")
    )  # radios sit inside their labels
    assert page.count('tabindex="0"') == len(job.rows)  # each row is reachable to select its box


def test_low_confidence_and_flag_disagreements_are_highlighted(reviewer, read_job):
    job, _ = read_job
    review = document_review(job)
    first = review.rows[0].observation.split("/")[1]
    # Make the first result disagree with its range, as a misread flag would.
    reviewer.post(f"/review/jobs/{job.id}", form_of(job, "save", value_0="999999"))
    # Row 2's value was read unsurely (as OCR reports it): the row, its value cell and its box are marked.
    printed_value = job.lab_report["rows"][1]["printed_value"]
    x0, y0, x1, y1 = job.rows[1]["region"]["box"]
    for line in job.document["pages"][0]["lines"]:
        for word in line["words"]:
            if word["text"] == printed_value and y0 <= (word["box"][1] + word["box"][3]) / 2 <= y1:
                word["confidence"] = 0.41
    job.save(update_fields=["document"])
    machine_doubt(reviewer, job.rows[1]["observation"], confidence=0.41)  # the reader's confidence in the row
    page = reviewer.get(f"/review/jobs/{job.id}").content.decode()
    assert 'id="row-0"' in page and "flag disagrees" in page.split('id="row-0"')[1].split(">")[0]
    row_1 = page.split('id="row-1"')[1].split("</tr>")[0]
    assert "low confidence" in row_1.split(">")[0]
    cells = row_1.split("<td")[1:]
    assert ["cell-low" in c.split(">")[0] for c in cells[:5]] == [
        False,
        False,
        True,
        False,
        False,
    ]  # the value cell only
    assert 'class="region low' in page and "0.41" in page
    assert fhir_get(reviewer, f"Observation/{first}")["valueQuantity"]["value"] == 999999


def test_progress_page_while_reading_and_job_state_json(reviewer, read_job):
    job, _ = read_job
    DigitizeJob.objects.filter(id=job.id).update(status=DigitizeJob.RUNNING, stage="reading", progress=0.3,
                                                 pages_done=1, pages_total=3)
    page = reviewer.get(f"/review/jobs/{job.id}").content.decode()
    assert "<progress" in page and 'value="30"' in page
    state = reviewer.get(f"/review/api/jobs/{job.id}").json()
    assert state["status"] == "running" and state["progress"] == 30 and not state["finished"]
    assert state["review_url"] == f"/review/jobs/{job.id}"
    assert state["stage"] == "reading: 1 of 3 pages done" and (state["pages_done"], state["pages_total"]) == (1, 3)
    assert "reading: 1 of 3 pages done (30%)" in reviewer.get("/review/").content.decode()


def test_search_boxes(reviewer, read_job):
    tests = reviewer.get("/review/api/loinc?q=hemoglobin a1c").json()["tests"]
    assert "4548-4" in [t["loinc"] for t in tests]
    assert reviewer.get("/review/api/loinc?q=2345-7").json()["tests"][0]["display"].startswith("Glucose")
    job, truth = read_job
    patients = reviewer.get(f"/review/api/patients?q={truth.patient.family}").json()["patients"]
    assert [p["id"] for p in patients] == [job.patient.split("/")[1]]


# --- decisions -------------------------------------------------------------------------------------
def test_correct_and_confirm_make_version_2_final_with_a_verifier(reviewer, clinician, read_job):
    job, truth = read_job
    review = document_review(job)
    target = review.rows[0]
    response = reviewer.post(f"/review/jobs/{job.id}", form_of(job, "confirm", value_0="88"))
    assert response.status_code == 302
    corrected = fhir_get(reviewer, target.observation)
    assert corrected["status"] == "final" and corrected["meta"]["versionId"] == "2"
    assert corrected["valueQuantity"]["value"] == 88
    machine = fhir_get(reviewer, f"{target.observation}/_history/1")
    assert machine["status"] == "preliminary" and machine["valueQuantity"]["value"] == float(truth.rows[0].value)
    for row in review.rows[1:]:
        other = fhir_get(reviewer, row.observation)
        assert other["status"] == "final" and other["meta"]["versionId"] == "2" and other.get("valueQuantity") == \
            fhir_get(reviewer, f"{row.observation}/_history/1").get("valueQuantity")
    report = fhir_get(reviewer, job.diagnostic_report)
    assert report["status"] == "final"
    practitioner = FhirUser.objects.get(user=clinician).resource
    bundle = fhir_get(reviewer, f"Provenance?target={job.diagnostic_report}&agent={practitioner}")
    [provenance] = [e["resource"] for e in bundle["entry"]]
    assert provenance["agent"][0]["type"]["coding"][0]["code"] == "verifier"
    assert provenance["agent"][0]["who"] == {"reference": practitioner, "display": "Meredith Grey"}
    assert provenance["activity"]["coding"][0]["code"] == "verify"
    assert {t["reference"] for t in provenance["target"]} >= {target.observation, job.diagnostic_report}
    # decided: the table is read-only and a second confirm is refused
    assert 'id="confirm"' not in reviewer.get(f"/review/jobs/{job.id}").content.decode()
    again = reviewer.post(f"/review/jobs/{job.id}", form_of(job, "confirm"), follow=True)
    assert b"amend it to change it" in again.content
    assert fhir_get(reviewer, job.diagnostic_report)["meta"]["versionId"] == "2"


def test_save_corrections_keeps_results_preliminary(reviewer, read_job):
    job, _ = read_job
    target = document_review(job).rows[1]
    reviewer.post(f"/review/jobs/{job.id}", form_of(job, "save", range_1="1-2", flag_1="L"))
    saved = fhir_get(reviewer, target.observation)
    assert saved["status"] == "preliminary" and saved["meta"]["versionId"] == "2"
    assert saved["referenceRange"][0]["text"] == "1-2" and saved["interpretation"][0]["coding"][0]["code"] == "L"
    untouched = document_review(job).rows[2]
    assert untouched.version == 1  # only what changed gets a new version
    provenance = fhir_get(reviewer, f"Provenance?target={target.observation}&agent-type=author")["entry"][0]["resource"]
    assert (
        provenance["activity"]["coding"][0]["code"] == "amend"
        and provenance["agent"][0]["type"]["coding"][0]["code"] == "author"
    )


def test_a_page_opened_before_someone_elses_change_cannot_overwrite_it(reviewer, read_job):
    job, _ = read_job
    stale = form_of(job, "save", value_0="1")
    reviewer.post(f"/review/jobs/{job.id}", form_of(job, "save", value_0="2"))
    response = reviewer.post(f"/review/jobs/{job.id}", stale, follow=True)
    assert b"changed by someone else" in response.content
    assert fhir_get(reviewer, document_review(job).rows[0].observation)["valueQuantity"]["value"] == 2


def test_an_unreadable_correction_is_refused_and_nothing_is_written(reviewer, read_job):
    job, _ = read_job
    response = reviewer.post(f"/review/jobs/{job.id}", form_of(job, "confirm", value_0="12..5"), follow=True)
    assert b"Row 1" in response.content and b"neither a number" in response.content
    assert fhir_get(reviewer, job.diagnostic_report)["status"] == "preliminary"
    assert all(row.version == 1 for row in document_review(job).rows)


def test_reject_marks_everything_entered_in_error(reviewer, read_job):
    job, _ = read_job
    reviewer.post(f"/review/jobs/{job.id}", form_of(job, "reject", value_0="5", reason="Wrong patient's report"))
    assert fhir_get(reviewer, job.diagnostic_report)["status"] == "entered-in-error"
    rows = document_review(job).rows
    assert {r.status for r in rows} == {"entered-in-error"}
    assert rows[0].cells.value != "5"  # a rejection stores no corrections
    provenance = fhir_get(reviewer, f"Provenance?target={job.diagnostic_report}&_sort=-_lastUpdated")["entry"][0][
        "resource"
    ]
    assert provenance["reason"] == [{"text": "Wrong patient's report"}]
    assert "rejected" in reviewer.get("/review/?show=all").content.decode()
    assert job.filename not in reviewer.get("/review/").content.decode()


# --- the patient --------------------------------------------------------------------------------------
@pytest.fixture
def mismatched(db):
    """A report filed, as asked, under a chart whose patient the page contradicts."""
    from fhirserver.storage import repository

    repository.update(
        "Patient",
        "chart-1",
        {
            "resourceType": "Patient",
            "id": "chart-1",
            "name": [{"family": "Someone", "given": ["Else"]}],
            "birthDate": "1950-01-01",
            "gender": "male",
        },
    )
    job, truth = read_report(subject="Patient/chart-1")
    assert job.status == "done"
    return job, truth


def test_a_patient_mismatch_must_be_resolved_before_confirming(reviewer, mismatched):
    job, _ = mismatched
    page = reviewer.get(f"/review/jobs/{job.id}").content.decode()
    assert "Choose the patient before confirming" in page and 'role="alert"' in page
    refused = reviewer.post(f"/review/jobs/{job.id}", form_of(job, "confirm"), follow=True)
    assert b"choose the patient before confirming" in refused.content
    assert fhir_get(reviewer, job.diagnostic_report)["status"] == "preliminary"
    kept = reviewer.post(f"/review/jobs/{job.id}", form_of(job, "confirm", patient_action="keep"))
    assert kept.status_code == 302 and fhir_get(reviewer, job.diagnostic_report)["status"] == "final"
    assert fhir_get(reviewer, job.diagnostic_report)["subject"]["reference"] == "Patient/chart-1"


def test_choosing_a_new_patient_from_the_report_moves_every_result(reviewer, mismatched):
    job, truth = mismatched
    reviewer.post(f"/review/jobs/{job.id}", form_of(job, "confirm", patient_action="new"))
    report = fhir_get(reviewer, job.diagnostic_report)
    subject = report["subject"]["reference"]
    assert subject != "Patient/chart-1" and report["status"] == "final" and report["meta"]["versionId"] == "2"
    patient = fhir_get(reviewer, subject)
    assert patient["name"][0]["family"] == truth.patient.family and patient["birthDate"] == truth.patient.birth_date
    found = fhir_get(reviewer, f"Observation?patient={subject.split('/')[1]}&category=laboratory&_count=100")
    assert found["total"] == len(truth.rows)
    assert fhir_get(reviewer, f"DocumentReference/{job.document_reference_id}")["subject"]["reference"] == subject
    assert fhir_get(reviewer, "Observation?patient=chart-1")["total"] == 0


def test_choosing_an_existing_patient(reviewer, mismatched):
    job, truth = mismatched
    from fhirserver.storage import repository

    repository.update(
        "Patient", "chart-2", {"resourceType": "Patient", "id": "chart-2", "name": [{"family": truth.patient.family}]}
    )
    reviewer.post(f"/review/jobs/{job.id}", form_of(job, "save", patient_action="existing", patient_id="chart-2"))
    assert fhir_get(reviewer, job.diagnostic_report)["subject"]["reference"] == "Patient/chart-2"
    assert fhir_get(reviewer, "Observation?patient=chart-2")["total"] == len(truth.rows)
    missing = reviewer.post(
        f"/review/jobs/{job.id}", form_of(job, "save", patient_action="existing", patient_id="nobody"), follow=True
    )
    assert b"Patient/nobody does not exist" in missing.content


# --- upload ------------------------------------------------------------------------------------------
def test_upload_several_files_starts_a_job_for_each(reviewer, db, monkeypatch):
    from evaluation.corpus.layouts import LAYOUTS
    from evaluation.corpus.render import render_pdf
    from ingestion import digitize
    from ingestion.edge.jobs.pool import read_direct
    from review import services

    ran = []
    # The in-process pool runs jobs on other threads, which cannot see this test's open transaction:
    # run them here instead (the browser test exercises the real queue against a live server).
    monkeypatch.setattr(
        services.queue,
        "enqueue",
        lambda job_id, data=None: ran.append(
            digitize.run(job_id, stages=digitize.default_stages(read=read_direct), data=data)
        ),
    )
    files = []
    for seed in (3, 4):
        layout = LAYOUTS["classic"]
        f = io.BytesIO(render_pdf(layout.report(seed), layout))
        f.name = f"report-{seed}.pdf"
        files.append(f)
    junk = io.BytesIO(b"just some text, not a report")
    junk.name = "notes.txt"
    response = reviewer.post("/review/upload", {"files": files + [junk]}, HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    documents = response.json()["documents"]
    assert [d["filename"] for d in documents] == ["report-3.pdf", "report-4.pdf", "notes.txt"]
    assert documents[2]["error"] and "job" not in documents[2]
    assert len(ran) == 2 and all(job.status == "done" for job in ran)
    assert {DigitizeJob.objects.get(id=d["job"]).requested_by for d in documents[:2]} == {"user:dr.grey"}
    state = reviewer.get(documents[0]["status_url"]).json()
    assert state["finished"] and state["status"] == "done"
    # one file without JavaScript: straight to its page
    one = io.BytesIO(render_pdf(LAYOUTS["classic"].report(5), LAYOUTS["classic"]))
    one.name = "single.pdf"
    response = reviewer.post("/review/upload", {"files": [one]})
    assert response.status_code == 302 and response["Location"].startswith("/review/jobs/")


def test_upload_for_a_chosen_patient(reviewer, db, monkeypatch):
    from evaluation.corpus.layouts import LAYOUTS
    from evaluation.corpus.render import render_pdf
    from fhirserver.storage import repository
    from review import services

    monkeypatch.setattr(services.queue, "enqueue", lambda job_id, data=None: None)
    repository.update("Patient", "p9", {"resourceType": "Patient", "id": "p9", "name": [{"family": "Chosen"}]})
    f = io.BytesIO(render_pdf(LAYOUTS["classic"].report(6), LAYOUTS["classic"]))
    f.name = "r.pdf"
    documents = reviewer.post(
        "/review/upload", {"files": [f], "patient_id": "p9"}, HTTP_ACCEPT="application/json"
    ).json()["documents"]
    assert DigitizeJob.objects.get(id=documents[0]["job"]).subject == "Patient/p9"
    f.seek(0)
    refused = reviewer.post("/review/upload", {"files": [f], "patient_id": "nobody"}, HTTP_ACCEPT="application/json")
    assert refused.status_code == 400 and "does not exist" in refused.json()["error"]
    assert reviewer.post("/review/upload", {}, HTTP_ACCEPT="application/json").status_code == 400


def test_sign_out_returns_to_the_login(reviewer):
    response = reviewer.post("/oauth2/logout", {"next": "/review/"})
    assert response.status_code == 302
    assert reviewer.get("/review/").status_code == 302  # signed out: back to the login page


def test_a_confirmed_report_can_be_retracted(reviewer, read_job):
    job, _ = read_job
    reviewer.post(f"/review/jobs/{job.id}", form_of(job, "confirm"))
    page = reviewer.get(f"/review/jobs/{job.id}").content.decode()
    assert "Retract this report" in page and 'id="save"' not in page
    reviewer.post(f"/review/jobs/{job.id}", form_of(job, "reject", reason="Sent to the wrong clinic"))
    report = fhir_get(reviewer, job.diagnostic_report)
    assert report["status"] == "entered-in-error" and report["meta"]["versionId"] == "3"
    assert {row.status for row in document_review(job).rows} == {"entered-in-error"}
    again = reviewer.post(f"/review/jobs/{job.id}", form_of(job, "reject"), follow=True)
    assert b"already rejected" in again.content


def test_a_failed_reading_explains_itself_on_its_page_and_in_the_list(reviewer, db):
    from ingestion import digitize
    from ingestion.edge.uploads import Upload

    job, _ = digitize.submit(
        Upload(data=b"%PDF-1.4\n% not really a pdf\n", media_type="application/pdf", filename="broken.pdf"),
        base_url="http://testserver/fhir",
        requested_by="user:dr.grey",
    )
    job = digitize.run(job.id)
    assert job.status == "failed"
    page = reviewer.get(f"/review/jobs/{job.id}").content.decode()
    assert "Reading failed" in page and 'id="results"' not in page
    listed = reviewer.get("/review/").content.decode()
    assert "broken.pdf" in listed and "state-failed" in listed


def test_page_images_are_stored_when_read_and_made_for_older_jobs_on_first_view(reviewer, read_job):
    from review.models import PageImage

    job, _ = read_job
    stored = PageImage.objects.get(job=job, number=1)
    response = reviewer.get(f"/review/jobs/{job.id}/pages/1.png")
    assert response.status_code == 200 and response.content == bytes(stored.data)
    PageImage.objects.filter(job=job).delete()  # as for a job read before page images were kept
    again = reviewer.get(f"/review/jobs/{job.id}/pages/1.png")
    assert again.status_code == 200 and again.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert PageImage.objects.filter(job=job).count() == 1


def test_the_list_names_who_uploaded_by_name_not_account_or_client_id(reviewer, clinician):
    from fhirserver.security import services

    job, _ = read_report("classic", 21)  # uploaded as user:dr.grey
    app = services.client_create(name="Ward tablet", scopes="system/*.cruds")
    other, _ = read_report("classic", 22)
    DigitizeJob.objects.filter(id=other.id).update(requested_by=f"client_id:{app['client_id']}")
    page = reviewer.get("/review/?show=all").content.decode()
    assert "Meredith Grey" in page and "Ward tablet (app)" in page
    assert "client_id:" not in page and "user:dr.grey" not in page
