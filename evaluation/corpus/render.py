"""Drawing a report in a layout with reportlab: a letter-size, text-layer PDF.

Page 1 carries the lab and patient header; later pages a one-line patient reminder and the
repeated table header, the way lab information systems print long reports.
"""
from __future__ import annotations

import os
import zlib
from datetime import date, datetime, timedelta
from decimal import Decimal
from io import BytesIO

import pypdfium2 as pdfium
from reportlab.lib.pagesizes import landscape, letter
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

from evaluation.corpus.catalogue import PANELS, SECTIONS
from evaluation.corpus.layouts import Layout, cells, number_text
from ingestion.labreport import LabReport

MARGIN = 42
BOTTOM = 70  # space kept for the footer
FONT_DIRS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/dejavu")
STANDARD = {
    "Helvetica": ("Helvetica", "Helvetica-Bold", "Helvetica-Oblique"),
    "Times-Roman": ("Times-Roman", "Times-Bold", "Times-Italic"),
    "Courier": ("Courier", "Courier-Bold", "Courier-Oblique"),
}


def _fonts(name: str) -> tuple[str, str, str]:
    if name in STANDARD:
        return STANDARD[name]
    files = {name: f"{name}.ttf", f"{name}-Bold": f"{name}-Bold.ttf", f"{name}-Oblique": f"{name}-Oblique.ttf"}
    for font, file in files.items():
        if font in pdfmetrics.getRegisteredFontNames():
            continue
        path = next((os.path.join(d, file) for d in FONT_DIRS if os.path.exists(os.path.join(d, file))), None)
        if path is None:
            raise RuntimeError(f"font {file} not found (install fonts-dejavu-core)")
        pdfmetrics.registerFont(TTFont(font, path))
    return tuple(files)  # type: ignore[return-value]


def format_date(iso: str, layout: Layout, *, with_time: bool) -> str:
    moment = (
        datetime.fromisoformat(iso) if "T" in iso else datetime.combine(date.fromisoformat(iso), datetime.min.time())
    )
    fmt = {"us": "%m/%d/%Y", "iso": "%Y-%m-%d", "eu": "%d.%m.%Y", "text": "%d %b %Y"}[layout.date_format]
    return moment.strftime(fmt + (" %H:%M" if with_time else ""))


def patient_name(report: LabReport, layout: Layout) -> str:
    p = report.patient
    if layout.name_format == "last_first":
        return f"{p.family.upper()}, {' '.join(p.given).upper()}"
    return f"{' '.join(p.given)} {p.family}"


def header_fields(report: LabReport, layout: Layout) -> list[tuple[str, str]]:
    p = report.patient
    sex = {"male": "Male", "female": "Female"}[p.sex]
    if layout.header_style in ("stacked", "blocks") or layout.split_name:
        sex = sex[0]
    values = {
        "name": patient_name(report, layout),
        "dob": format_date(p.birth_date, layout, with_time=False),
        "sex": sex,
        "mrn": p.identifier,
        "collected": format_date(report.collected, layout, with_time=True),
        "reported": format_date(report.reported, layout, with_time=True),
        "clinician": f"Dr. {report.ordering_clinician}" if layout.name_format == "first_last" else
        _last_first(report.ordering_clinician),
        "accession": report.accession,
    }
    keys = ["name", "dob", "sex", "mrn", "collected", "reported", "clinician", "accession"]
    if layout.split_name:
        values["family"], values["given"] = p.family.upper(), " ".join(p.given)  # labels: Surname, First name
        keys[0:1] = ["family", "given"]
        keys.remove("accession")
        keys.append("accession")
    if layout.received:  # received a little after collection: a date that is neither of the two scored ones
        values["received"] = format_date((datetime.fromisoformat(report.collected) + timedelta(minutes=95)).isoformat(),
                                         layout, with_time=True)
        keys.insert(keys.index("reported"), "received")
    fields = [(layout.labels.get(key, key.capitalize()), values[key]) for key in keys]
    return fields[:8] if not (layout.split_name or layout.received) else fields


def _last_first(name: str) -> str:
    first, _, last = name.rpartition(" ")
    return f"{last}, {first} MD"


SPECIMENS = {"cbc": "Whole blood (EDTA)", "coag": "Citrated plasma", "ua": "Urine", "sero": "Serum"}


def previous_result(row, report: LabReport, layout: Layout) -> str:
    """An older result of the same test with its date, as cumulative reports print beside the current one."""
    spin = zlib.crc32(f"{row.printed_name}-{report.accession}".encode())
    when = format_date((datetime.fromisoformat(report.collected) - timedelta(days=20 + spin % 150)).isoformat(),
                       layout, with_time=False)
    if row.value is None:
        return f"{row.value_text or ''} ({when})"
    old = (row.value * (Decimal(80 + spin % 41) / 100)).quantize(row.value if row.value.as_tuple().exponent < 0
                                                                  else Decimal(1))
    return f"{number_text(max(old, Decimal(0)), layout)} ({when})"


def table_items(report: LabReport, layout: Layout) -> list[tuple[str, object]]:
    items: list[tuple[str, object]] = []
    panel = section = None
    previous = any(col.kind == "previous" for col in layout.columns)
    for row in report.rows:
        if layout.sections and row.panel != panel:
            key = next(k for k, headings in PANELS.items() if row.panel in headings)
            if SECTIONS[key] != section:
                section = SECTIONS[key]
                items.append(("section", section))
        if layout.panel_headings and row.panel != panel:
            if layout.specimen_titles:
                key = next(k for k, headings in PANELS.items() if row.panel in headings)
                items.append(("panel", (row.panel, SPECIMENS.get(key, "Serum"))))
            else:
                items.append(("panel", row.panel))
        panel = row.panel
        items.append(("row", cells(row, layout) | ({"previous": previous_result(row, report, layout)}
                                                   if previous else {})))
        if layout.comments and row.comment:
            items.append(("comment", row.comment))
    return items


class _Drawer:
    def __init__(self, c: canvas.Canvas, report: LabReport, layout: Layout, total_pages: int):
        self.c, self.report, self.layout, self.total = c, report, layout, total_pages
        self.regular, self.bold, self.italic = _fonts(layout.font)
        self.size = layout.font_size
        self.lh = layout.font_size * 1.75
        self.page_w, self.page_h = landscape(letter) if layout.landscape else letter
        self.width = self.page_w - 2 * MARGIN
        xs, x = [], MARGIN
        for col in layout.columns:
            xs.append(x)
            x += col.width * self.width
        self.xs = xs + [MARGIN + self.width]
        self.page = 0

    def text(self, x, y, s, font=None, size=None):
        self.c.setFont(font or self.regular, size or self.size)
        self.c.drawString(x, y, s)

    def new_page(self) -> float:
        if self.page:
            self.footer(last=False)
            self.c.showPage()
        self.page += 1
        y = self.first_header() if self.page == 1 or self.layout.repeat_header else self.short_header()
        return self.table_header(y)

    def first_header(self) -> float:
        r, lay = self.report, self.layout
        y = self.page_h - MARGIN - 6
        self.text(MARGIN, y, r.lab_name, self.bold, 14)
        self.text(MARGIN, y - 13, "1200 Medical Center Drive, Suite 100  ·  Tel (555) 010-2000".replace("·", "|"),
                  size=7.5)
        self.c.setFont(self.bold, 12)
        self.c.drawRightString(self.page_w - MARGIN, y, lay.title)
        y -= 40
        if lay.header_below:
            return y - 6
        return self.fields(y)

    def fields(self, y: float) -> float:
        """The patient and report fields in the layout's header style, from `y` down; returns the y below."""
        r, lay = self.report, self.layout
        fields = header_fields(r, lay)
        if lay.header_style == "box":
            y = self.box(fields, y)
        elif lay.header_style == "inline":
            per = (len(fields) + 1) // 2
            for i, (label, value) in enumerate(fields):
                x = MARGIN + (i // per) * (self.width / 2)
                yy = y - (i % per) * (self.size + 5)
                self.text(x, yy, f"{label}:", self.bold)
                self.text(x + self.c.stringWidth(f"{label}: ", self.bold, self.size) + 2, yy, value)
            y -= per * (self.size + 5) + 8
        elif lay.header_style == "stacked":
            col = self.width / 4
            for i, (label, value) in enumerate(fields):
                x = MARGIN + (i % 4) * col
                yy = y - (i // 4) * (2 * self.size + 14)
                self.text(x, yy, label.upper(), self.regular, self.size - 1.5)
                self.text(x, yy - self.size - 3, value, self.bold, min(self.size, 9.5))
            y -= 2 * (2 * self.size + 14) + 4
        elif lay.header_style == "blocks":
            y = self.blocks(fields, y)
        else:  # key-value grid, labels without colons
            row_h = self.size + 8
            widths = (0.18, 0.32, 0.18, 0.32)
            for i in range(4):
                yy = y - i * row_h
                x = MARGIN
                for j, (label, value) in enumerate((fields[i], fields[i + 4])):
                    self.c.rect(x, yy - 4, widths[2 * j] * self.width, row_h, stroke=1, fill=0)
                    fit = (widths[2 * j] * self.width - 6 - self.size) / self.c.stringWidth(label, self.bold, self.size)
                    self.text(x + 3, yy, label, self.bold, min(self.size, self.size * fit))
                    x += widths[2 * j] * self.width
                    self.c.rect(x, yy - 4, widths[2 * j + 1] * self.width, row_h, stroke=1, fill=0)
                    self.text(x + 3, yy, value)
                    x += widths[2 * j + 1] * self.width
            y -= 4 * row_h + 10
        return y - 6

    def box(self, fields: list[tuple[str, str]], y: float) -> float:
        """Fields in a bordered box of two columns, each a column of labels and a column of values."""
        per = (len(fields) + 1) // 2
        step = self.size + 5
        self.c.rect(MARGIN, y - per * step + 2, self.width, per * step + self.size, stroke=1, fill=0)
        for i, (label, value) in enumerate(fields):
            x = MARGIN + 6 + (i // per) * (self.width / 2)
            yy = y - (i % per) * step
            tab = max(self.c.stringWidth(lab, self.bold, self.size) for lab, _ in fields[(i // per) * per:][:per])
            self.text(x, yy, label, self.bold)
            self.text(x + tab + 2.5 * self.size, yy, value)
        return y - per * step - 8

    def blocks(self, fields: list[tuple[str, str]], y: float) -> float:
        """Reference-lab style: PATIENT / SPECIMEN / CLIENT blocks; the patient's name under its block
        title without a label."""
        values = dict(fields)
        lab = self.layout.labels
        blocks = (
            (
                "PATIENT INFORMATION",
                [
                    values[lab.get("name", "Name")],
                    f"{lab['dob']}: {values[lab['dob']]}",
                    f"{lab['sex']}: {values[lab['sex']]}",
                    f"{lab['mrn']}: {values[lab['mrn']]}",
                ],
            ),
            (
                "SPECIMEN INFORMATION",
                [
                    f"{lab['accession']}: {values[lab['accession']]}",
                    f"{lab['collected']}: {values[lab['collected']]}",
                    f"Received: {values['Received']}",
                    f"{lab['reported']}: {values[lab['reported']]}",
                ],
            ),
            ("CLIENT INFORMATION", [f"{lab['clinician']}:", values[lab["clinician"]], "Report Status: FINAL"]),
        )
        for i, (title, lines) in enumerate(blocks):
            x = MARGIN + (0, 0.34, 0.74)[i] * self.width  # the specimen block holds the longest lines
            self.text(x, y, title, self.bold, self.size)
            for j, line in enumerate(lines, 1):
                self.text(x, y - j * (self.size + 4), line, self.bold if (i, j) == (0, 1) else None)
        self.c.line(MARGIN, y - 5 * (self.size + 4) - 2, MARGIN + self.width, y - 5 * (self.size + 4) - 2)
        return y - 5 * (self.size + 4) - 14

    def short_header(self) -> float:
        name, dob, _, mrn = header_fields(self.report, self.layout)[:4]
        y = self.page_h - MARGIN - 6
        self.text(MARGIN, y, f"{name[0]}: {name[1]}    {mrn[0]}: {mrn[1]}    {dob[0]}: {dob[1]}    (continued)",
                  size=self.size - 0.5)
        return y - 26

    def table_header(self, y: float) -> float:
        lay = self.layout
        if not lay.table_header:
            return y - 4
        lines = max(col.title.count("\n") + 1 for col in lay.columns)
        y -= (lines - 1) * (self.size + 2)
        for x, col in zip(self.xs, lay.columns):
            parts = col.title.split("\n")
            for k, part in enumerate(parts):  # titles sit on the bottom line; a two-line title starts above it
                self.text(x + 3, y + (len(parts) - 1 - k) * (self.size + 2), part, self.bold)
        if lay.grid:
            self._grid_row(y)
        elif lay.rules:
            self.c.line(MARGIN, y - 5, MARGIN + self.width, y - 5)
        return y - self.lh

    def _grid_row(self, y: float) -> None:
        top, h = y + self.size + 1, self.lh
        for x0, x1 in zip(self.xs, self.xs[1:]):
            self.c.rect(x0, top - h, x1 - x0, h, stroke=1, fill=0)

    def item(self, y: float, kind: str, content) -> float:
        lay = self.layout
        if kind == "section":
            self.c.setFont(self.bold, self.size + 1.5)
            self.c.drawCentredString(MARGIN + self.width / 2, y - 2, content)
            self.c.line(MARGIN, y - 6, MARGIN + self.width, y - 6)
            return y - self.lh * 1.3
        if kind == "panel":
            if isinstance(content, tuple):  # (panel title, specimen): the specimen set under the results
                content, specimen = content
                self.text(self.xs[[c.kind for c in lay.columns].index("value")] + 3, y, specimen, self.italic)
            self.text(MARGIN + 3, y, content, self.bold, self.size + 0.5)
            return y - self.lh
        if kind == "comment":
            self.text(MARGIN + 15, y + 3, content, self.italic, self.size - 1)
            return y - self.lh * 0.8
        name_lines = self.wrapped(content["name"]) if lay.wrap_names else [content["name"]]
        step = self.size * 1.2
        value_y = y if lay.wrap_names != "last" else y - (len(name_lines) - 1) * step
        for x0, x1, col in zip(self.xs, self.xs[1:], lay.columns):
            text = content[col.kind]
            if col.kind == "name" and lay.wrap_names:
                for k, line in enumerate(name_lines):
                    self.text(x0 + 3 + (lay.wrap_indent if k else 0), y - k * step, line)
                continue
            if text and lay.right_numbers and col.kind in ("value", "in_range", "out_of_range") and \
                    self.c.stringWidth(text, self.regular, self.size) < x1 - x0 - 3 - 1.5 * self.size:
                self.c.setFont(self.regular, self.size)
                self.c.drawRightString(x1 - 1.5 * self.size, value_y, text)
            elif text:  # a cell never runs into the next column: long names are set smaller, as LIS printouts do
                width = self.c.stringWidth(text, self.regular, self.size)
                self.text(
                    x0 + 3, value_y, text, size=min(self.size, self.size * (x1 - x0 - 3 - 1.5 * self.size) / width)
                )
        if lay.grid:
            self._grid_row(y)
        return y - self.lh - (len(name_lines) - 1) * step

    def wrapped(self, text: str) -> list[str]:
        """A name wider than its column, broken at spaces onto as many lines as it needs."""
        room = (self.xs[1] - self.xs[0]) - 6 - self.layout.wrap_indent
        lines: list[str] = []
        for word in text.split(" "):
            if lines and self.c.stringWidth(f"{lines[-1]} {word}", self.regular, self.size) <= room:
                lines[-1] += f" {word}"
            else:
                lines.append(word)
        return lines

    def footer(self, *, last: bool) -> None:
        c = self.c
        c.setFont(self.regular, 7.5)
        c.drawString(
            MARGIN,
            40,
            f"{self.report.lab_name}  |  CLIA 05D2094567  |  "
            f"Printed {format_date(self.report.reported, self.layout, with_time=True)}",
        )
        c.drawRightString(self.page_w - MARGIN, 40, f"Page {self.page} of {self.total}")

    def end(self, y: float) -> None:
        self.c.setFont(self.regular, self.size)
        self.c.drawCentredString(self.page_w / 2, y - 10, "*** End of Report ***")
        self.c.setFont(self.italic, self.size - 1)
        self.c.drawString(
            MARGIN, y - 30, "Electronically verified by: Laboratory Director. Results relate only to the sample tested."
        )
        self.footer(last=True)
        self.c.showPage()


def _draw(c: canvas.Canvas, report: LabReport, layout: Layout, total_pages: int) -> int:
    d = _Drawer(c, report, layout, total_pages)
    y = d.new_page()
    for kind, content in table_items(report, layout):
        if y < BOTTOM + d.lh:
            y = d.new_page()
        y = d.item(y, kind, content)
    if layout.header_below:  # the patient and report fields after the results
        if y < BOTTOM + 40 + 6 * (layout.font_size + 5):
            y = d.new_page()
        y = d.fields(y - 8)
    if y < BOTTOM + 40:
        y = d.new_page()
    d.end(y)
    return d.page


def draw_report(report: LabReport, layout: Layout) -> bytes:
    size = landscape(letter) if layout.landscape else letter
    pages = _draw(canvas.Canvas(BytesIO(), pagesize=size), report, layout, 0)
    buf = BytesIO()
    c = canvas.Canvas(buf, pagesize=size, invariant=1)
    c.setTitle("Laboratory report")
    _draw(c, report, layout, pages)
    c.save()
    return buf.getvalue()


def render_pdf(report: LabReport, layout: Layout) -> bytes:
    return draw_report(report, layout)


def render_page_images(report: LabReport, layout: Layout, dpi: int = 300):
    """The report's pages as RGB PIL images, rasterised from the text-layer PDF."""
    pdf = pdfium.PdfDocument(render_pdf(report, layout))
    try:
        return [pdf[i].render(scale=dpi / 72).to_pil().convert("RGB") for i in range(len(pdf))]
    finally:
        pdf.close()
