"""Count confident-wrong rows (CONTRACTS.md: a row the server would store as a valueQuantity with
confidence >= the review threshold whose LOINC, value, comparator or unit differs from the truth, or
that stands for no truth row) on rendered reports, straight through read -> understand:

- text PDFs of every named layout and 12 random ones (seed 7), 150 dpi scans and phone photos of 6;
- a page with two result tables side by side (issue 12's first failure) as text PDF, scan and photo.

Also counts right rows the plausibility checks sent to review (the cost of the safety net).

    DATABASE_URL=... PYTHONPATH=. .venv/bin/python scripts/confident_wrong.py
"""
from __future__ import annotations

import io
import os
import random
from decimal import Decimal


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fhirserver.settings.base")
    import django

    django.setup()
    import pypdfium2 as pdfium
    from reportlab.lib.pagesizes import letter
    from reportlab.pdfgen import canvas

    from evaluation.corpus.degrade import DEGRADATIONS
    from evaluation.corpus.layouts import LAYOUTS, random_layout
    from evaluation.corpus.render import render_page_images, render_pdf
    from evaluation.lab import pair_rows
    from ingestion.edge.jobs.pool import read_direct
    from ingestion.labreport import REVIEW_THRESHOLD, LabReport, LabRow
    from ingestion.understanding import understand

    def confident(g) -> bool:
        return g.value is not None and not g.review_reasons and g.confidence >= REVIEW_THRESHOLD

    def wrong(t, g) -> bool:
        return t.loinc != g.loinc or t.value != g.value or t.comparator != g.comparator or t.unit != g.unit

    totals: dict[str, list[int]] = {}

    def score(kind: str, truth, got) -> None:
        pairs, invented = pair_rows(truth.rows, got.rows)
        cw = sum(1 for t, g in pairs if g is not None and confident(g) and wrong(t, g))
        cw += sum(1 for g in invented if confident(g))
        held = sum(1 for t, g in pairs
                   if g is not None and g.value is not None and g.review_reasons and not wrong(t, g))
        row = totals.setdefault(kind, [0, 0, 0, 0])
        row[:] = [a + b for a, b in zip(row, (cw, sum(map(confident, got.rows)), len(truth.rows), held))]

    layouts = list(LAYOUTS.items()) + [(f"random{i}", random_layout(100 + i)) for i in range(12)]
    for _, layout in layouts:
        truth = layout.report(7)
        score("text-pdf", truth, understand(read_direct(render_pdf(truth, layout), "application/pdf")))
    for _, layout in layouts[:: max(1, len(layouts) // 6)][:6]:
        truth = layout.report(8)
        page = render_page_images(truth, layout, dpi=300)[0]
        for kind in ("150dpi", "phone-photo"):
            data, media = DEGRADATIONS[kind](page, random.Random(8))
            score(kind, truth, understand(read_direct(data, media)))

    left = [("Glucose", "112", "mg/dL", "70 - 99", "2345-7"), ("Sodium", "141", "mmol/L", "136 - 145", "2951-2"),
            ("Potassium", "4.2", "mmol/L", "3.5 - 5.1", "2823-3"),
            ("Creatinine", "0.84", "mg/dL", "0.60 - 1.30", "2160-0")]
    right = [("Hemoglobin", "14.2", "g/dL", "13.5 - 17.5", "718-7"),
             ("Platelets", "265", "10^3/uL", "150 - 450", "777-3"), ("Cholesterol", "231", "mg/dL", "< 200", "2093-3"),
             ("Triglycerides", "148", "mg/dL", "< 150", "2571-8")]
    units = {"mg/dL": "mg/dL", "mmol/L": "mmol/L", "g/dL": "g/dL", "10^3/uL": "10*3/uL"}
    truth = LabReport(rows=[LabRow(printed_name=n, value=Decimal(v), unit=units[u], loinc=code)
                            for n, v, u, _, code in left + right])
    buffer = io.BytesIO()
    c = canvas.Canvas(buffer, pagesize=letter)
    c.setFont("Helvetica-Bold", 14)
    c.drawString(40, 750, "Northside Clinical Laboratory")
    c.setFont("Helvetica", 9)
    c.drawString(40, 730, "Patient Name: Doe, Jane    DOB: 1980-01-02    Collected: 2026-04-17")
    for x0, title, rows in ((40, "CHEMISTRY", left), (310, "HAEMATOLOGY AND LIPIDS", right)):
        c.setFont("Helvetica-Bold", 9)
        c.drawString(x0, 700, title)
        for dx, text in zip((0, 90, 130, 180), ("Test", "Result", "Units", "Range")):
            c.drawString(x0 + dx, 685, text)
        c.setFont("Helvetica", 9)
        for i, row in enumerate(rows):
            for dx, text in zip((0, 90, 130, 180), row[:4]):
                c.drawString(x0 + dx, 670 - 14 * i, text)
    c.save()
    pdf = buffer.getvalue()
    document = pdfium.PdfDocument(pdf)
    page = document[0].render(scale=300 / 72).to_pil().convert("RGB")
    document.close()
    score("side-by-side text-pdf", truth, understand(read_direct(pdf, "application/pdf")))
    for kind in ("150dpi", "phone-photo"):
        data, media = DEGRADATIONS[kind](page, random.Random(1))
        score(f"side-by-side {kind}", truth, understand(read_direct(data, media)))

    print("| input | confident-wrong | confident rows | truth rows | right rows sent to review |")
    print("|---|---|---|---|---|")
    for kind, (cw, confident_rows, rows, held) in totals.items():
        print(f"| {kind} | {cw} | {confident_rows} | {rows} | {held} |")


if __name__ == "__main__":
    main()
