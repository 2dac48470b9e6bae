"""The review pages end to end in a real headless Chromium (Debian's, driven by Playwright) against the
server `make run` starts (tests/newcomer.py: DEBUG off, WhiteNoise, the real settings, security on): sign
in, upload, check the page's styles and highlighting as computed by the browser, see a flagged row block
Confirm, add and remove rows, accept by keyboard, correct, confirm and amend; then check over the FHIR API
(the banner's token) what was stored.

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

SHOTS = os.environ.get("REVIEW_SCREENSHOTS")
SELECTED = re.compile(r"\bselected\b")
READ_TIMEOUT_MS = 300_000  # a cold reader process loads its models first
USER, PASSWORD, NAME = "clinician", "clinician", "Demo Clinician"  # what `make run` creates


@pytest.fixture
def browser(chromium):
    return chromium


def fhir(server, path: str) -> dict:
    request = urllib.request.Request(f"{server.fhir}/{path}", headers={
        "Authorization": f"Bearer {server.token}", "Accept": "application/fhir+json"})
    with urllib.request.urlopen(request, timeout=30) as response:  # raises on anything but 2xx
        assert response.status == 200
        return json.loads(response.read())


def shot(page, name: str, *, full_page: bool = False) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"review-{name}.png"), full_page=full_page)


def style(page, selector: str, prop: str) -> str:
    # After a click that navigates, the new page's HTML may be there before its stylesheet: wait for the
    # load event (stylesheets included), so a style missing then is a stylesheet that did not come.
    page.wait_for_load_state("load")
    return page.evaluate("([s, p]) => getComputedStyle(document.querySelector(s)).getPropertyValue(p)",
                         [selector, prop])


def sign_in(page, server) -> None:
    page.goto(f"{server.url}/review/")
    expect(page).to_have_url(f"{server.url}/oauth2/login?next=/review/")
    page.fill("#id_username", USER)
    page.fill("#id_password", PASSWORD)
    page.click("#sign-in")
    expect(page.locator("h1")).to_have_text("Awaiting review")
    # The stylesheet arrived and applies (under make run every /static/ URL once answered 404).
    assert style(page, ".bar", "background-color") == "rgb(23, 50, 79)"


def choose_files(page, files: list[Path]) -> None:
    page.get_by_role("link", name="Upload", exact=True).click()
    page.wait_for_url("**/review/upload")
    page.wait_for_load_state("load")  # the page's script lists the chosen files
    page.set_input_files("#files", [str(f) for f in files])
    expect(page.locator("#chosen li")).to_have_count(len(files))


def wait_for_review(page) -> str:
    page.wait_for_url("**/review/jobs/*", timeout=READ_TIMEOUT_MS)
    page.wait_for_selector("#results", timeout=READ_TIMEOUT_MS)
    page.wait_for_function("Array.from(document.querySelectorAll('.page img')).every(i => i.complete)")
    loaded = page.evaluate("Array.from(document.querySelectorAll('.page img')).map(i => i.naturalWidth)")
    assert loaded and all(width > 0 for width in loaded), loaded  # every page image arrived
    return page.url.split("/review/jobs/")[1].split("?")[0]


def misprinted_report(seed: int):
    """A report whose page prints L for a value inside its range: a flag the reviewer must see."""
    truth = LAYOUTS["classic"].report(seed)
    index = next(i for i, r in enumerate(truth.rows) if i > 2 and r.flag is None and r.value is not None
                 and r.reference_range and r.reference_range.low is not None and r.reference_range.high is not None)
    truth.rows[index].flag = "L"
    return truth, index


def test_upload_check_guarded_confirm_and_amend_in_a_real_browser(newcomer, browser, tmp_path):
    truth, misprinted = misprinted_report(11)
    pdf = tmp_path / "cmp-report.pdf"
    pdf.write_bytes(render_pdf(truth, LAYOUTS["classic"]))
    page = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
    sign_in(page, newcomer)
    choose_files(page, [pdf])
    shot(page, "upload")
    page.click("#upload")
    job = wait_for_review(page)

    rows = page.locator("tr.result")
    expect(rows).to_have_count(len(truth.rows))
    expect(page.locator("rect.region")).to_have_count(len(truth.rows))
    # Styles as the browser computes them: boxes are tinted outlines, never the solid black of unstyled SVG.
    fills = page.evaluate("Array.from(document.querySelectorAll('rect.region')).map(r => getComputedStyle(r).fill)")
    assert "rgb(0, 0, 0)" not in fills and len(set(fills)) >= 1
    expect(rows.nth(misprinted)).to_have_class(re.compile(r"\bdisagrees\b.*\bto-check\b"))
    assert style(page, f"#region-{misprinted}", "stroke") == "rgb(179, 38, 30)"
    assert style(page, f"#row-{misprinted} td.cell-disagrees", "background-color") == "rgb(253, 226, 226)"
    # Highlighting: a row and its box select each other, by keyboard and by click.
    rows.nth(2).focus()
    page.keyboard.press("Enter")
    expect(page.locator("#region-2")).to_have_class(SELECTED)
    assert style(page, "#region-2", "stroke-width") == "6px"
    page.keyboard.press("ArrowDown")
    expect(rows.nth(3)).to_be_focused()
    page.locator("#region-4").dispatch_event("click")
    expect(rows.nth(4)).to_have_class(SELECTED)
    expect(rows.nth(4)).to_be_focused()
    # Value and Unit fields show their whole content.
    cut = page.evaluate("Array.from(document.querySelectorAll('input.value, input.unit, input.range'))"
                        ".filter(i => i.scrollWidth > i.clientWidth + 1).map(i => i.id + '=' + i.value)")
    assert cut == []

    # A flagged row blocks Confirm, in the page and on the server.
    open_rows = int(page.locator("#open-count").get_attribute("data-open"))
    assert open_rows >= 1
    expect(page.locator("#open-count")).to_contain_text(f"{open_rows} row")
    expect(page.locator("#confirm")).to_be_disabled()
    page.locator(f"#region-{misprinted}").dispatch_event("click")
    page.evaluate("window.scrollTo(0, 0)")
    shot(page, "review", full_page=True)
    page.evaluate("document.getElementById('confirm').disabled = false")  # a page that let it through...
    page.click("#confirm")
    expect(page.locator(".message.error")).to_contain_text("need a decision before confirming" if open_rows > 1
                                                           else "needs a decision before confirming")
    expect(page.locator("#review-state")).to_have_text("awaiting review")  # ...is refused by the server

    # Add a missing result from the terminology, by name.
    page.click("#add-row")
    expect(page.locator("#new-0-loinc")).to_be_focused()
    page.keyboard.type("hemoglobin a1")
    expect(page.locator("#loinc-options option[value='4548-4']")).to_have_count(1)
    page.fill("#new-0-loinc", "4548-4")
    expect(page.locator("#new-0-name")).to_have_value(re.compile("Hemoglobin A1c"))
    page.fill("#new-0-value", "6.1")
    page.fill("#new-0-unit", "%")
    page.fill("#new-0-range", "4.0-5.6")
    page.select_option("#new-0-flag", "H")
    # Remove a wrong one, and resolve every row to check by keyboard (Tab to its toggle, Space).
    removed = 1
    page.locator(f"label[for='remove-{removed}']").click()
    expect(rows.nth(removed)).to_have_class(re.compile(r"\bremoved\b"))
    for index in page.evaluate("Array.from(document.querySelectorAll('tr.result.to-check')).map(r => r.dataset.row)"):
        if int(index) != removed:
            page.focus(f"#accept-{index}")
            page.keyboard.press("Space")
    expect(page.locator("#open-count")).to_have_text("No rows left to check.")
    expect(page.locator("#confirm")).to_be_enabled()
    corrected = str(truth.rows[0].value + Decimal(7))
    page.get_by_label("Value, row 1", exact=True).fill(corrected)  # every cell is labelled
    shot(page, "resolved", full_page=True)
    page.get_by_role("button", name="Confirm results").click()
    expect(page.locator("#review-state")).to_have_text("confirmed")
    expect(page.locator(".message.success")).to_contain_text("1 corrected, 1 added, 1 removed")
    expect(page.locator("#value-0")).to_have_value(corrected)

    # Over the FHIR API with the banner's token: what the person decided is what is stored.
    status = fhir(newcomer, f"_jobs/{job}")  # the job status shows the current versions
    resources = [e["resource"] for e in status["entry"]]
    [report] = [r for r in resources if r["resourceType"] == "DiagnosticReport"]
    assert report["status"] == "final" and len(report["result"]) == len(truth.rows)  # one removed, one added
    first = fhir(newcomer, report["result"][0]["reference"])
    assert first["status"] == "final" and first["meta"]["versionId"] == "2"
    assert Decimal(str(first["valueQuantity"]["value"])) == Decimal(corrected)
    assert {s["code"] for s in first["meta"]["security"]} == {"CLINAST"}
    machine = fhir(newcomer, f"{report['result'][0]['reference']}/_history/1")
    assert machine["valueQuantity"]["value"] == float(truth.rows[0].value)
    assert {s["code"] for s in machine["meta"]["security"]} == {"AIAST"}
    added = fhir(newcomer, report["result"][-1]["reference"])
    assert added["code"]["coding"][0]["code"] == "4548-4" and added["valueQuantity"]["value"] == 6.1
    gone = [r for r in resources if r["resourceType"] == "Observation" and r["status"] == "entered-in-error"]
    assert len(gone) == 1
    verifiers = fhir(newcomer, f"Provenance?target={report['result'][0]['reference']}&agent-type=verifier")
    [agent] = verifiers["entry"][0]["resource"]["agent"]
    assert agent["who"]["display"] == NAME

    # Amend the confirmed report: the corrected result and the report become `corrected`.
    page.click("#amend-link")
    expect(page.locator("#amend")).to_be_visible()
    page.fill("#value-1", str(truth.rows[2].value + 1))
    page.click("#amend")
    expect(page.locator(".message.success")).to_contain_text("Amended: 1 corrected")
    expect(page.locator("#review-state")).to_have_text("confirmed")
    expect(page.locator(".decision")).to_contain_text("corrected")
    assert fhir(newcomer, report["result"][1]["reference"])["status"] == "corrected"
    assert fhir(newcomer, f"DiagnosticReport/{report['id']}")["status"] == "corrected"

    page.get_by_role("link", name="Documents").click()
    page.get_by_role("link", name="Show all documents").click()
    row = page.locator("#documents tbody tr", has_text="cmp-report.pdf")
    expect(row).to_contain_text("confirmed")
    expect(row).to_contain_text(NAME)  # "By" names the person, not user:clinician
    page.goto(f"{newcomer.url}/review/jobs/{job}")
    shot(page, "amended", full_page=True)


def test_photo_and_pdf_together_on_a_tablet(newcomer, browser, tmp_path):
    """Two files at once (a phone-camera-like PNG read by OCR, and a PDF), on a tablet-sized screen."""
    layout = LAYOUTS["hospital-grid"]
    photo_truth = layout.report(12)
    [image] = render_page_images(photo_truth, layout, dpi=200)
    photo = tmp_path / "photo.png"
    image.save(photo)
    pdf = tmp_path / "second.pdf"
    pdf.write_bytes(render_pdf(LAYOUTS["classic"].report(13), LAYOUTS["classic"]))
    page = browser.new_context(viewport={"width": 820, "height": 1180}, has_touch=True).new_page()
    sign_in(page, newcomer)
    choose_files(page, [photo, pdf])
    page.click("#upload")
    expect(page.locator("#jobs li")).to_have_count(2)
    expect(page.locator("#jobs progress")).to_have_count(2)
    expect(page.locator("#jobs li", has_text="photo.png")).to_contain_text(re.compile(r"queued|reading|page"))
    shot(page, "progress")
    for name in ("photo.png", "second.pdf"):
        expect(page.locator("#jobs li", has_text=name).get_by_role("link", name="Review")).to_be_visible(
            timeout=READ_TIMEOUT_MS
        )
    page.locator("#jobs li", has_text="photo.png").get_by_role("link", name="Review").click()
    job = wait_for_review(page)
    status = fhir(newcomer, f"_jobs/{job}")
    observations = [e["resource"] for e in status["entry"] if e["resource"]["resourceType"] == "Observation"]
    expect(page.locator("tr.result")).to_have_count(len(observations))
    assert len(observations) >= len(photo_truth.rows) - 1  # OCR of a clean page finds (nearly) every row
    # stacked on a tablet: the page image above the table, both full width
    image_box, table_box = page.locator(".page").first.bounding_box(), page.locator("#results").bounding_box()
    assert image_box["y"] + image_box["height"] <= table_box["y"] + 1
    shot(page, "tablet", full_page=True)
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("summary", has_text="Reject this report").click()
    page.fill("#reason", "Test upload")
    page.click("#reject")
    expect(page.locator("#review-state")).to_have_text("rejected")
    [report] = [e["resource"] for e in fhir(newcomer, f"_jobs/{job}")["entry"]
                if e["resource"]["resourceType"] == "DiagnosticReport"]
    assert report["status"] == "entered-in-error"
    page.set_viewport_size({"width": 1440, "height": 700})
    page.get_by_role("link", name="Documents").click()
    expect(page.locator("#documents tbody tr", has_text="second.pdf")).to_have_count(1)  # still awaits review
    expect(page.locator("#documents tbody tr", has_text="photo.png")).to_have_count(0)
    page.get_by_role("link", name="Show all documents").click()
    expect(page.locator("#documents tbody tr", has_text="photo.png")).to_contain_text("rejected")
    shot(page, "list")
