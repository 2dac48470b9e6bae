"""Documents the reader tests generate: a simple lab report as a text-layer PDF and as page images."""
from __future__ import annotations

import io

import pypdfium2
from PIL import Image
from reportlab.lib.pagesizes import letter
from reportlab.pdfgen import canvas

ROWS = [  # test name, value, unit, reference range, flag
    ("Hemoglobin", "13.5", "g/dL", "13.0-17.0", ""),
    ("WBC", "7.2", "x10^3/uL", "4.0-11.0", ""),
    ("Platelets", "412", "x10^3/uL", "150-400", "H"),
    ("Glucose", "104", "mg/dL", "70-99", "H"),
    ("Creatinine", "0.91", "mg/dL", "0.70-1.30", ""),
    ("Sodium", "139", "mmol/L", "136-145", ""),
    ("Potassium", "3.3", "mmol/L", "3.5-5.1", "L"),
    ("ALT", "28", "U/L", "7-56", ""),
    ("TSH", "2.15", "uIU/mL", "0.40-4.00", ""),
    ("HbA1c", "5.6", "%", "4.0-5.6", ""),
    ("Ferritin", "18", "ng/mL", "24-336", "L"),
    ("Vitamin D", "31.4", "ng/mL", "30.0-100.0", ""),
]
HEADER = ["Northside Clinical Laboratory", "Patient: DOE, JANE   DOB: 04/12/1961   MRN: 55012",
          "Collected: 03/02/2025 08:15   Ordering Physician: Chen, Sarah MD"]
COLUMNS = (72, 230, 310, 400, 500)


def report_pdf(pages: int = 1, *, font: str = "Helvetica", size: float = 10.5) -> bytes:
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=letter)
    for number in range(1, pages + 1):
        y = 730
        pdf.setFont(font + "-Bold" if font == "Helvetica" else font, 14)
        pdf.drawString(72, y, HEADER[0])
        pdf.setFont(font, size)
        for text in HEADER[1:]:
            y -= 20
            pdf.drawString(72, y, text)
        y -= 34
        for x, title in zip(COLUMNS, ("Test", "Result", "Units", "Reference Range", "Flag")):
            pdf.drawString(x, y, title)
        pdf.line(72, y - 5, 540, y - 5)
        for row in ROWS:
            y -= 22
            for x, cell in zip(COLUMNS, row):
                if cell:
                    pdf.drawString(x, y, cell)
        pdf.drawString(72, 60, f"Page {number} of {pages}")
        pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def page_images(pdf: bytes, dpi: int = 300) -> list[Image.Image]:
    document = pypdfium2.PdfDocument(pdf)
    try:
        return [document[i].render(scale=dpi / 72).to_pil().convert("RGB") for i in range(len(document))]
    finally:
        document.close()


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def words_of(document) -> list[str]:
    return [word.text for page in document.pages for line in page.lines for word in line.words]


def contains_sequence(words: list[str], text: str) -> bool:
    part = text.split()
    return any(words[i:i + len(part)] == part for i in range(len(words) - len(part) + 1))
