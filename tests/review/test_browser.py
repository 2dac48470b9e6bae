"""The review pages end to end in a real headless Chromium (Debian's, driven by Playwright) against a
live server: sign in, upload a generated report, wait for it to be read, correct one value, confirm,
then check over the FHIR API (with a bearer token, security on) what was stored.

Set REVIEW_SCREENSHOTS=docs/images to refresh the screenshots of docs/review.md from this run.
"""
from __future__ import annotations

import json
import os
import re
import urllib.request
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import expect

from evaluation.corpus.layouts import LAYOUTS
from evaluation.corpus.render import render_page_images, render_pdf
from fhirserver.security import services, tokens
from fhirserver.security.models import FhirUser
from ingestion.models import DigitizeJob
from review.accounts import clinician_create

from .conftest import PASSWORD

SHOTS = os.environ.get("REVIEW_SCREENSHOTS")
SELECTED = re.compile(r"\bselected\b")
READ_TIMEOUT_MS = 300_000  # a cold reader process loads its models first


@pytest.fixture
def browser(chromium):
    return chromium


@pytest.fixture
def server(live_server, settings):
    """A live server with security on, a clinician, and a token for checking over the FHIR API."""
    settings.FHIR = {**settings.FHIR, "AUTH_REQUIRED": True}
    tokens.forget_all()
    clinician_create(username="dr.grey", password=PASSWORD, full_name="Meredith Grey")
    client = services.client_create(name="checker", scopes="system/*.rs")
    token = services.token_issue(client_id=client["client_id"], scopes="system/*.rs")
    yield {"url": live_server.url, "token": token}
    tokens.forget_all()


def fhir(server, path: str) -> dict:
    request = urllib.request.Request(
        f"{server['url']}/fhir/{path}",
        headers={"Authorization": f"Bearer {server['token']}", "Accept": "application/fhir+json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # raises on anything but 2xx
        assert response.status == 200
        return json.loads(response.read())


def shot(page, name: str, *, full_page: bool = False) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"review-{name}.png"), full_page=full_page)


def sign_in(page, server) -> None:
    page.goto(f"{server['url']}/review/")
    expect(page).to_have_url(f"{server['url']}/oauth2/login?next=/review/")
    page.fill("#id_username", "dr.grey")
    page.fill("#id_password", PASSWORD)
    page.click("#sign-in")
    expect(page.locator("h1")).to_have_text("Awaiting review")


def choose_files(page, files: list[Path]) -> None:
    page.get_by_role("link", name="Upload", exact=True).click()
    page.wait_for_url("**/review/upload")
    page.wait_for_load_state("load")  # the page's script lists the chosen files
    page.set_input_files("#files", [str(f) for f in files])
    expect(page.locator("#chosen li")).to_have_count(len(files))


def wait_for_review(page) -> None:
    page.wait_for_url("**/review/jobs/*", timeout=READ_TIMEOUT_MS)
    page.wait_for_selector("#results", timeout=READ_TIMEOUT_MS)
    page.wait_for_function("Array.from(document.querySelectorAll('.page img')).every(i => i.complete)")
    loaded = page.evaluate("Array.from(document.querySelectorAll('.page img')).map(i => i.naturalWidth)")
    assert loaded and all(width > 0 for width in loaded), loaded  # every page image arrived


def test_upload_correct_confirm_in_a_real_browser(server, browser, tmp_path):
    layout = LAYOUTS["classic"]
    truth = layout.report(11)
    # a misprinted flag: the page says L for a value inside its range, which the reviewer must see
    misprinted = next(
        i
        for i, r in enumerate(truth.rows)
        if i > 0
        and r.flag is None
        and r.value is not None
        and r.reference_range
        and r.reference_range.low is not None
        and r.reference_range.high is not None
    )
    truth.rows[misprinted].flag = "L"
    pdf = tmp_path / "cmp-report.pdf"
    pdf.write_bytes(render_pdf(truth, layout))
    page = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
    sign_in(page, server)
    choose_files(page, [pdf])
    shot(page, "upload")
    page.click("#upload")
    wait_for_review(page)

    rows = page.locator("tr.result")
    expect(rows).to_have_count(len(truth.rows))
    expect(page.locator("rect.region")).to_have_count(len(truth.rows))
    expect(rows.nth(misprinted)).to_have_class(re.compile(r"\bdisagrees\b"))
    expect(page.locator(f"#region-{misprinted}")).to_have_class(re.compile(r"\bdisagrees\b"))
    expect(page.locator("tr.result.disagrees")).to_have_count(1)
    # a row and its box highlight each other: keyboard on the row, click on the box
    rows.nth(2).focus()
    page.keyboard.press("Enter")
    expect(page.locator("#region-2")).to_have_class(SELECTED)
    page.locator("#region-4").dispatch_event("click")
    expect(rows.nth(4)).to_have_class(SELECTED)
    expect(rows.nth(4)).to_be_focused()
    # the LOINC box searches the terminology
    page.fill("#loinc-1", "hemoglobin a1")
    expect(page.locator("#loinc-options option[value='4548-4']")).to_have_count(1)
    page.fill("#loinc-1", truth.rows[1].loinc)
    page.locator(f"#region-{misprinted}").dispatch_event("click")
    page.evaluate("window.scrollTo(0, 0)")
    shot(page, "review", full_page=True)

    job = DigitizeJob.objects.get(filename="cmp-report.pdf")
    observation = job.rows[0]["observation"]
    corrected = str(truth.rows[0].value + Decimal(7))
    page.get_by_label("Value, row 1", exact=True).fill(corrected)  # every cell is labelled
    page.get_by_role("button", name="Confirm results").click()
    expect(page.locator("#review-state")).to_have_text("confirmed")
    expect(page.locator("#value-0")).to_have_value(corrected)

    stored = fhir(server, observation)
    assert stored["status"] == "final" and stored["meta"]["versionId"] == "2"
    assert Decimal(str(stored["valueQuantity"]["value"])) == Decimal(corrected)
    assert fhir(server, f"{observation}/_history/1")["valueQuantity"]["value"] == float(truth.rows[0].value)
    assert fhir(server, job.diagnostic_report)["status"] == "final"
    practitioner = FhirUser.objects.get(user__username="dr.grey").resource
    provenances = [e["resource"] for e in fhir(server, f"Provenance?target={observation}&agent-type=verifier")["entry"]]
    assert len(provenances) == 1
    [agent] = provenances[0]["agent"]
    assert agent["who"] == {"reference": practitioner, "display": "Meredith Grey"}
    assert fhir(server, practitioner)["name"][0]["text"] == "Meredith Grey"

    page.get_by_role("link", name="Documents").click()
    expect(page.locator("#documents")).to_have_count(0)  # nothing awaits review any more
    page.get_by_role("link", name="Show all documents").click()
    expect(page.locator("#documents")).to_contain_text("confirmed")


def test_photo_and_pdf_together_on_a_tablet(server, browser, tmp_path):
    """Two files at once (a phone-camera-like PNG read by OCR, and a PDF), on a tablet-sized screen."""
    layout = LAYOUTS["hospital-grid"]
    photo_truth = layout.report(12)
    [image] = render_page_images(photo_truth, layout, dpi=200)
    photo = tmp_path / "photo.png"
    image.save(photo)
    pdf = tmp_path / "second.pdf"
    pdf.write_bytes(render_pdf(LAYOUTS["classic"].report(13), LAYOUTS["classic"]))
    page = browser.new_context(viewport={"width": 820, "height": 1180}, has_touch=True).new_page()
    sign_in(page, server)
    choose_files(page, [photo, pdf])
    page.click("#upload")
    expect(page.locator("#jobs li")).to_have_count(2)
    expect(page.locator("#jobs progress")).to_have_count(2)
    shot(page, "progress")
    for name in ("photo.png", "second.pdf"):
        expect(page.locator("#jobs li", has_text=name).get_by_role("link", name="Review")).to_be_visible(
            timeout=READ_TIMEOUT_MS
        )
    page.locator("#jobs li", has_text="photo.png").get_by_role("link", name="Review").click()
    wait_for_review(page)
    job = DigitizeJob.objects.get(filename="photo.png")
    assert job.status == "done" and job.document["pages"][0]["source"] == "ocr"
    expect(page.locator("tr.result")).to_have_count(len(job.rows))
    assert len(job.rows) >= len(photo_truth.rows) - 1  # OCR of a clean page finds (nearly) every row
    expect(page.locator("rect.region")).to_have_count(sum(1 for r in job.rows if r["region"]))
    # stacked on a tablet: the page image above the table, both full width
    image_box, table_box = page.locator(".page").first.bounding_box(), page.locator("#results").bounding_box()
    assert image_box["y"] + image_box["height"] <= table_box["y"] + 1
    shot(page, "tablet", full_page=True)
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("summary", has_text="Reject this report").click()
    page.fill("#reason", "Test upload")
    page.click("#reject")
    expect(page.locator("#review-state")).to_have_text("rejected")
    assert fhir(server, job.diagnostic_report)["status"] == "entered-in-error"
    page.set_viewport_size({"width": 1440, "height": 700})
    page.get_by_role("link", name="Documents").click()
    expect(page.locator("#documents tbody tr")).to_have_count(1)  # the PDF still awaits review
    page.get_by_role("link", name="Show all documents").click()
    expect(page.locator("#documents tbody tr")).to_have_count(2)
    expect(page.locator("#documents tbody tr").first).to_contain_text("second.pdf")  # newest first
    expect(page.locator("#documents")).to_contain_text("rejected")
    shot(page, "list")
