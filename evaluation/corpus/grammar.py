"""A layout grammar: reports in the families issue 12 lists, combined at random per seed.

`generate(family, seed) -> Case` draws a ground-truth report (the catalogue's analytes, as
`reports.sample_report` draws them) and prints it in one *family* of layout, with everything else
chosen at random from the seed: fonts and sizes, rulings, column order and titles, flag and range
forms, header labels and locale (US, UK: day-first dates, an NHS number printed with spaces, SI
units; EU: decimal comma too). Families:

  column-groups  two or three result tables side by side, each with its own column titles
  blocks         a test name line, then `Result: 5.4 mmol/L (Ref 3.5-5.0) H` (or one field a line)
  one-line       one line per test in free text: `Glucose 112 mg/dL (70-99) H`
  key-value      `Glucose: 112 mg/dL (70-99) H`, names padded to a colon
  ruled          a table with cell borders round every cell
  landscape      a wide table on a landscape page
  multi-page     one long table over two pages, titles printed on the first page only
  cumulative     several dated result columns (the newest the report's collection)
  dotted-leader  an upright monospaced page: `25-OH VITAMIN D ........ 93.9  ng/mL  30-100`
and three inputs that are not lab reports and must be refused: blank, recipe, letter.
Method/comment lines and section headings appear at random in the families that carry them.

The truth of a cumulative report has one row per test and dated column, each with its
`effective` date (the newest column's row keeps None: the report's collection time).
"""
from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from io import BytesIO

import pypdfium2 as pdfium
from reportlab.lib.pagesizes import A4, landscape, letter
from reportlab.pdfgen import canvas

from evaluation.corpus.catalogue import ANALYTES, PANELS
from evaluation.corpus.layouts import Layout, flag_text, number_text, range_cell, value_text
from evaluation.corpus.render import _fonts
from evaluation.corpus.reports import sample_report
from ingestion.labreport import LabReport, LabRow

LAB_FAMILIES = ("column-groups", "blocks", "one-line", "key-value", "ruled", "landscape", "multi-page",
                "cumulative", "dotted-leader")
NON_LAB = ("blank", "recipe", "letter")
FAMILIES = LAB_FAMILIES + NON_LAB
LOCALES = ("US", "UK", "EU")
FONTS = ("Helvetica", "Times-Roman", "Courier", "DejaVuSans")
COMMENTS = ("Method: enzymatic colorimetric assay.", "Fasting specimen.", "Calculated using the CKD-EPI 2021 equation.",
            "Note: haemolysed samples may give raised values.", "Comment: repeat in 3 months advised.")


@dataclass
class Case:
    family: str
    seed: int
    truth: LabReport | None  # None: not a lab report, must be refused
    pdf: bytes
    locale: str
    scan_dpi: int = 300  # the resolution the page is scanned at (the dotted-leader page: 150)

    @property
    def lab(self) -> bool:
        return self.truth is not None

    def page_images(self, dpi: int | None = None):
        pdf = pdfium.PdfDocument(self.pdf)
        try:
            return [pdf[i].render(scale=(dpi or self.scan_dpi) / 72).to_pil().convert("RGB") for i in range(len(pdf))]
        finally:
            pdf.close()


# ---- truth ---------------------------------------------------------------------------------

def _truth(family: str, seed: int, locale: str, rng: random.Random) -> LabReport:
    units = "US" if locale == "US" else "SI"
    report = sample_report(seed * 7919 + LAB_FAMILIES.index(family), units=units,
                           pages=2 if family in ("multi-page", "dotted-leader") else 1, qualitative=rng.random() < 0.2)
    if locale == "UK":  # an NHS number: ten digits printed 3-3-4
        digits = f"{rng.randrange(400, 999)}{rng.randrange(100, 999)}{rng.randrange(1000, 9999)}"
        report.patient.identifier = f"{digits[:3]} {digits[3:6]} {digits[6:]}"
    if family == "column-groups":  # groups of similar length: cap each panel
        report.rows = [r for r in report.rows if r.value is not None or r.value_text]
    if family in ("dotted-leader", "key-value", "one-line", "blocks"):
        report.rows = [r for r in report.rows if r.value is not None or r.value_text][:18 if family == "blocks" else 25]
    if family == "landscape":
        report.rows = report.rows[:14]
    return report


def _older(row: LabRow, days: int, rng: random.Random) -> LabRow:
    """The same test some days earlier: a nearby value (flagged against the same range)."""
    if row.value is None:
        return replace(row, effective=None)
    factor = Decimal(rng.randrange(80, 121)) / 100
    exponent = row.value.as_tuple().exponent
    value = max((row.value * factor).quantize(Decimal(1).scaleb(exponent)), Decimal(1).scaleb(exponent))
    rr = row.reference_range
    flag = None
    if rr and rr.high is not None and value > rr.high:
        flag = "H"
    elif rr and rr.low is not None and value < rr.low:
        flag = "L"
    return replace(row, value=value, comparator=None, printed_value=str(value), flag=flag)


# ---- printing ------------------------------------------------------------------------------

def _date(iso: str, locale: str, style: str, *, time: bool) -> str:
    moment = datetime.fromisoformat(iso)
    fmt = {"US": "%m/%d/%Y", "UK": "%d/%m/%Y", "EU": "%d.%m.%Y"}[locale] if style == "numeric" else "%d %b %Y"
    return moment.strftime(fmt + (" %H:%M" if time else ""))


class _Printer:
    """A reportlab canvas with a font, a cursor and the report's formatting habits."""

    def __init__(self, truth: LabReport | None, locale: str, rng: random.Random, *, page=letter, font=None,
                 size=None):
        self.buffer = BytesIO()
        self.page_w, self.page_h = page
        self.c = canvas.Canvas(self.buffer, pagesize=page, invariant=1)
        self.truth, self.locale, self.rng = truth, locale, rng
        self.font_name = font or rng.choice(FONTS)
        self.regular, self.bold, self.italic = _fonts(self.font_name)
        self.size = size or rng.choice((8.5, 9, 9.5, 10))
        self.margin = rng.choice((36, 42, 50))
        self.width = self.page_w - 2 * self.margin
        self.y = self.page_h - self.margin - 10
        self.date_style = rng.choice(("numeric", "numeric", "text"))
        self.style = Layout("grammar", (), flag_style=rng.choice(("letter", "letter", "word")),
                            decimal_comma=locale == "EU", range_dash=rng.choice(("-", " - ")),
                            range_style=rng.choice(("plain", "plain", "brackets", "parens")))
        self.pages = 1
        self.spacing = 1.7  # line pitch over font size

    # text
    def text(self, x, y, s, font=None, size=None):
        self.c.setFont(font or self.regular, size or self.size)
        self.c.drawString(x, y, s)

    def right(self, x, y, s, font=None):
        self.c.setFont(font or self.regular, self.size)
        self.c.drawRightString(x, y, s)

    def line_height(self) -> float:
        return self.size * self.spacing

    def down(self, lines: float = 1.0) -> float:
        self.y -= lines * self.line_height()
        return self.y

    def room(self, lines: float = 1.0) -> bool:
        return self.y - lines * self.line_height() > 60

    def new_page(self) -> None:
        self.c.showPage()
        self.pages += 1
        self.y = self.page_h - self.margin - 10

    def save(self) -> bytes:
        self.c.showPage()
        self.c.save()
        return self.buffer.getvalue()

    # report parts
    def value(self, row: LabRow) -> str:
        return value_text(row, self.style)

    def unit(self, row: LabRow) -> str:
        return row.printed_unit or ""

    def range(self, row: LabRow) -> str:
        return range_cell(row, self.style)

    def flag(self, row: LabRow) -> str:
        return flag_text(row.flag, self.style)

    def number(self, value: Decimal) -> str:
        return number_text(value, self.style)

    def letterhead(self) -> None:
        t = self.truth
        self.text(self.margin, self.y, t.lab_name, self.bold, 14)
        self.text(self.margin, self.y - 13, "1200 Medical Center Drive | Tel (555) 010-2000", size=7.5)
        self.c.setFont(self.bold, 12)
        self.c.drawRightString(self.page_w - self.margin, self.y, self.rng.choice(
            ("LABORATORY REPORT", "Test Results", "Pathology Report", "FINAL REPORT")))
        self.y -= 36

    def header(self) -> None:
        t, p, rng = self.truth, self.truth.patient, self.rng
        uk = self.locale == "UK"
        if rng.random() < 0.5:
            name = f"{p.family.upper()}, {' '.join(p.given).upper()}"
        else:
            name = f"{' '.join(p.given)} {p.family}"
        sex = {"male": "Male", "female": "Female"}[p.sex]
        fields = [
            ("Patient" if rng.random() < 0.5 else "Patient Name", name),
            ("DOB" if not uk else rng.choice(("DOB", "Date of Birth")),
             _date(p.birth_date, self.locale, self.date_style, time=False)),
            ("Sex", sex),
            ("NHS No" if uk else rng.choice(("MRN", "Patient ID")), p.identifier),
            ("Collected", _date(t.collected, self.locale, self.date_style, time=True)),
            ("Reported", _date(t.reported, self.locale, self.date_style, time=True)),
            ("Ordering Physician" if not uk else "Requested by", f"Dr. {t.ordering_clinician}"),
            ("Accession #" if not uk else "Lab No", t.accession),
        ]
        per = 4
        for i, (label, value) in enumerate(fields):
            x = self.margin + (i // per) * (self.width / 2)
            yy = self.y - (i % per) * (self.size + 5)
            self.text(x, yy, f"{label}:", self.bold)
            self.text(x + self.c.stringWidth(f"{label}: ", self.bold, self.size) + 2, yy, value)
        self.y -= per * (self.size + 5) + 14

    def heading(self, text: str) -> None:
        self.text(self.margin, self.y, text, self.bold, self.size + 1)
        self.down()

    def comment(self, row: LabRow, indent: float = 14) -> None:
        if self.rng.random() < 0.25:
            self.text(self.margin + indent, self.y + 3, self.rng.choice(COMMENTS), self.italic, self.size - 1)
            self.down(0.8)

    def end(self) -> None:
        if not self.room(2):
            self.new_page()
        self.down()
        self.c.setFont(self.regular, self.size)
        self.c.drawCentredString(self.page_w / 2, self.y, "*** End of Report ***")


def _panels(rows: list[LabRow]) -> list[tuple[str | None, list[LabRow]]]:
    groups: list[tuple[str | None, list[LabRow]]] = []
    for row in rows:
        if not groups or groups[-1][0] != row.panel:
            groups.append((row.panel, []))
        groups[-1][1].append(row)
    return groups


COLUMN_TITLES = {"name": ("Test", "Analyte", "Investigation", "Parameter"), "value": ("Result", "Value"),
                 "unit": ("Units", "Unit"), "range": ("Reference Range", "Ref. Range", "Normal Range"),
                 "flag": ("Flag", "H/L")}


def _table(pr: _Printer, rows: list[LabRow], x0: float, width: float, kinds: list[str], *, grid=False,
           titles=True, headings=True) -> None:
    """One results table from pr.y down, between x0 and x0 + width; titles only when `titles`."""
    flag_share = .14 if pr.style.flag_style == "word" else .08  # "HIGH" needs room
    shares = {"name": .36, "value": .16, "unit": .17, "range": .23, "flag": flag_share}
    total = sum(shares[k] for k in kinds)
    xs = [x0]
    for k in kinds:
        xs.append(xs[-1] + shares[k] / total * width)
    lh = pr.line_height()

    def borders(y):
        if grid:
            for a, b in zip(xs, xs[1:]):
                pr.c.rect(a, y - 4, b - a, lh, stroke=1, fill=0)

    if titles:
        for a, b, k in zip(xs, xs[1:], kinds):
            title = pr.rng.choice(COLUMN_TITLES[k]) if not hasattr(pr, "titles") else pr.titles[k]
            w = pr.c.stringWidth(title, pr.bold, pr.size)
            pr.text(a + 3, pr.y, title, pr.bold, min(pr.size, pr.size * (b - a - 3 - pr.size / 2) / w))
        borders(pr.y)
        if not grid:
            pr.c.line(x0, pr.y - 5, x0 + width, pr.y - 5)
        pr.down()
    for panel, group in _panels(rows):
        if headings and panel:
            if not pr.room():
                pr.new_page()
            pr.text(x0 + 3, pr.y, panel, pr.bold, pr.size + 0.5)
            pr.down()
        for row in group:
            if not pr.room():
                pr.new_page()  # continued without titles
            value = pr.value(row)
            if "flag" not in kinds and pr.flag(row):  # no flag column: the flag follows the result
                value = f"{value} {pr.flag(row)}"
            text = {"name": row.printed_name, "value": value, "unit": pr.unit(row), "range": pr.range(row),
                    "flag": pr.flag(row)}
            for a, b, k in zip(xs, xs[1:], kinds):
                s = text[k]
                if not s:
                    continue
                w = pr.c.stringWidth(s, pr.regular, pr.size)
                pr.text(a + 3, pr.y, s, size=min(pr.size, pr.size * (b - a - 3 - pr.size) / max(w, 1)))
            borders(pr.y)
            pr.down()
            if not grid:
                pr.comment(row, indent=x0 - pr.margin + 14)


def _kinds(rng: random.Random, flag: bool = True) -> list[str]:
    rest = ["value", "unit", "range"] + (["flag"] if flag and rng.random() < 0.6 else [])
    if rng.random() < 0.5:
        rng.shuffle(rest)
    return ["name"] + rest


def _print_columns(truth, locale, rng) -> bytes:
    groups = _panels(truth.rows)
    n = 3 if len(groups) >= 3 and rng.random() < 0.5 else 2
    # three groups need a landscape page to stay readable
    pr = _Printer(truth, locale, rng, size=rng.choice((7.5, 8, 8.5)), page=landscape(letter) if n == 3 else letter)
    pr.letterhead()
    pr.header()
    buckets: list[list[LabRow]] = [[] for _ in range(n)]
    for i, (_, group) in enumerate(groups):
        buckets[i % n].extend(group)
    kinds = ["name", "value", "unit", "range"] + (["flag"] if n == 2 and rng.random() < 0.5 else [])
    gutter = rng.choice((14, 20, 28))
    width = (pr.width - (n - 1) * gutter) / n
    top = pr.y
    pr.titles = {k: rng.choice(v) for k, v in COLUMN_TITLES.items()}
    for i, bucket in enumerate(buckets):
        pr.y = top
        _table(pr, bucket, pr.margin + i * (width + gutter), width, kinds, grid=rng.random() < 0.2)
    pr.y = top - (max(len(b) + len(_panels(b)) for b in buckets) + 2) * pr.line_height()
    pr.end()
    return pr.save()


def _print_blocks(truth, locale, rng) -> bytes:
    pr = _Printer(truth, locale, rng)
    pr.letterhead()
    pr.header()
    one_line = rng.random() < 0.6
    ref = rng.choice(("Ref", "Reference", "Normal"))
    for panel, group in _panels(truth.rows):
        if not pr.room(3):
            pr.new_page()
        pr.heading(panel.upper() if panel else "RESULTS")
        for row in group:
            if not pr.room(4):
                pr.new_page()
            pr.text(pr.margin, pr.y, row.printed_name, pr.bold)
            pr.down()
            value = f"{pr.value(row)} {pr.unit(row)}".strip()
            rng_text, flag = pr.range(row), pr.flag(row)
            if one_line:
                rr = f" ({ref} {rng_text.strip('()[]')})" if rng_text else ""
                pr.text(pr.margin + 14, pr.y, f"Result: {value}{rr}{' ' + flag if flag else ''}")
                pr.down()
            else:
                for label, text in (("Result", value), ("Reference range", rng_text), ("Flag", flag)):
                    if text:
                        pr.text(pr.margin + 14, pr.y, f"{label}: {text}")
                        pr.down(0.9)
            pr.comment(row)
            pr.down(0.3)
    pr.end()
    return pr.save()


def _print_one_line(truth, locale, rng) -> bytes:
    pr = _Printer(truth, locale, rng)
    pr.letterhead()
    pr.header()
    for panel, group in _panels(truth.rows):
        if rng.random() < 0.8:
            pr.heading(panel)
        for row in group:
            if not pr.room():
                pr.new_page()
            rr, flag = pr.range(row), pr.flag(row)
            rr = f"({rr.strip('()[]')})" if rr else ""
            parts = [row.printed_name, pr.value(row), pr.unit(row), rr, flag]
            pr.text(pr.margin, pr.y, " ".join(p for p in parts if p))
            pr.down()
            pr.comment(row)
    pr.end()
    return pr.save()


def _print_key_value(truth, locale, rng) -> bytes:
    pr = _Printer(truth, locale, rng)
    pr.letterhead()
    pr.header()
    padded = rng.random() < 0.5
    tab = max(pr.c.stringWidth(r.printed_name + ":", pr.regular, pr.size) for r in truth.rows) + 12
    for panel, group in _panels(truth.rows):
        pr.heading(panel)
        for row in group:
            if not pr.room():
                pr.new_page()
            rr, flag = pr.range(row), pr.flag(row)
            rest = " ".join(p for p in (pr.value(row), pr.unit(row), f"({rr.strip('()[]')})" if rr else "", flag) if p)
            if padded:
                pr.text(pr.margin, pr.y, f"{row.printed_name}:")
                pr.text(pr.margin + tab, pr.y, rest)
            else:
                pr.text(pr.margin, pr.y, f"{row.printed_name}: {rest}")
            pr.down()
    pr.end()
    return pr.save()


def _print_table(truth, locale, rng, *, family: str) -> bytes:
    page = landscape(letter) if family == "landscape" else rng.choice((letter, A4))
    pr = _Printer(truth, locale, rng, page=page)
    pr.letterhead()
    pr.header()
    kinds = _kinds(rng)
    pr.titles = {k: rng.choice(v) for k, v in COLUMN_TITLES.items()}
    _table(pr, truth.rows, pr.margin, pr.width, kinds, grid=family == "ruled" or rng.random() < 0.15,
           headings=family != "ruled" or rng.random() < 0.5)
    pr.end()
    return pr.save()


def _print_cumulative(truth, locale, rng) -> tuple[bytes, list[LabRow]]:
    """Name, unit, range and three or four dated result columns; returns the PDF and the truth rows."""
    count = rng.choice((3, 4))
    pr = _Printer(truth, locale, rng, page=landscape(letter) if count == 4 or rng.random() < 0.3 else letter,
                  size=rng.choice((8, 8.5, 9)))
    pr.letterhead()
    pr.header()
    collected = datetime.fromisoformat(truth.collected)
    days = sorted(rng.sample(range(7, 400), count - 1))
    dates = [collected] + [collected - timedelta(days=d) for d in days]
    newest_first = rng.random() < 0.6
    if not newest_first:
        dates = dates[::-1]
    rows_out: list[LabRow] = []
    titles = ["Test"] + [_date(d.isoformat(), locale, pr.date_style, time=False) for d in dates] + \
        ["Units", rng.choice(("Ref. Range", "Reference"))]
    lines = []
    for panel, group in _panels([r for r in truth.rows if r.value is not None]):
        lines.append((panel, None))
        for row in group:
            column_rows = []
            for when in dates:
                if when == collected:
                    r = row
                else:
                    r = replace(_older(row, (collected - when).days, rng), effective=when.date().isoformat())
                column_rows.append(r)
            cells = [row.printed_name] + [
                f"{pr.value(r)}{' ' + pr.flag(r) if pr.flag(r) else ''}" for r in column_rows
            ] + [pr.unit(row), pr.range(row)]
            lines.append((None, cells))
            rows_out.extend(column_rows)
    # each column as wide as its widest cell or title, the spare width shared out as gaps
    widths = [max(pr.c.stringWidth(t, pr.bold, pr.size), *(pr.c.stringWidth(c[i], pr.regular, pr.size)
                                                             for _, c in lines if c)) for i, t in enumerate(titles)]
    gap = max(pr.size, (pr.width - sum(widths)) / len(widths))
    xs = [pr.margin]
    for w in widths:
        xs.append(xs[-1] + w + gap)
    for x, title in zip(xs, titles):
        pr.text(x, pr.y, title, pr.bold)
    pr.c.line(pr.margin, pr.y - 5, pr.margin + pr.width, pr.y - 5)
    pr.down()
    for panel, cells in lines:
        if not pr.room():
            pr.new_page()
        if cells is None:
            pr.text(pr.margin, pr.y, panel, pr.bold)
        else:
            for x, s in zip(xs, cells):
                pr.text(x, pr.y, s)
        pr.down()
    pr.end()
    return pr.save(), rows_out


def _print_dotted(truth, locale, rng) -> bytes:
    """An upright monospaced printout: NAME ........ value  unit  range, upper case, dotted leaders.
    Half of them are compact line-printer pages (the header a field a line, short result lines, no
    ranges): their columns of monospaced characters make the ink profile look sideways."""
    compact = rng.random() < 0.5
    pr = _Printer(truth, locale, rng, font="Courier", size=rng.choice((10, 11, 12) if compact else (9, 10, 11)))
    pr.spacing = rng.choice((1.2, 1.3, 1.45, 1.7))  # line printers set lines tight
    if compact:
        t, p = truth, truth.patient
        lines = [t.lab_name.upper(), "",
                 f"PATIENT: {p.family.upper()}, {' '.join(p.given).upper()}",
                 f"DOB: {_date(p.birth_date, locale, 'numeric', time=False)}  SEX: {p.sex[0].upper()}",
                 f"{'NHS NO' if locale == 'UK' else 'MRN'}: {p.identifier}",
                 f"COLLECTED: {_date(t.collected, locale, 'numeric', time=True)}",
                 f"REPORTED: {_date(t.reported, locale, 'numeric', time=True)}",
                 f"DR: {t.ordering_clinician.upper()}", f"ACCESSION: {t.accession}", ""]
        for line in lines:
            pr.text(pr.margin, pr.y, line)
            pr.down()
        units = rng.random() < 0.5
        for row in truth.rows:
            row.reference_range = None
            row.printed_name = _shortest_name(row)  # line printers abbreviate
            if not units:
                row.printed_unit = row.unit = None
    else:
        pr.letterhead()
        pr.header()
    name_width = max(len(r.printed_name) for r in truth.rows) + (3 if compact else 6)
    for panel, group in _panels(truth.rows):
        if not compact:
            pr.text(pr.margin, pr.y, f"--- {panel.upper()} ---", pr.bold)
            pr.down()
        for row in group:
            if not pr.room():
                pr.new_page()
            name = row.printed_name.upper()
            leader = " " + "." * (name_width - len(name) - 2) + " "
            value = pr.value(row)
            flag = pr.flag(row)
            line = f"{name}{leader}{value:>8} {flag:<2} {pr.unit(row):<10} {pr.range(row)}"
            pr.text(pr.margin, pr.y, line.rstrip())
            pr.down()
    pr.end()
    return pr.save()


def _shortest_name(row: LabRow) -> str:
    for analyte in ANALYTES:
        if any(m is not None and m.loinc == row.loinc for m in (analyte.us, analyte.si)):
            return min(analyte.names, key=len)
    return row.printed_name


RECIPE = ("Grandma's Apple Crumble", "", "Serves 6. Preparation 20 min, baking 40 min.", "", "Ingredients",
          "6 apples, peeled and sliced", "150 g plain flour", "100 g cold butter, diced", "75 g brown sugar",
          "1 tsp ground cinnamon", "2 tbsp lemon juice", "", "Method",
          "1. Heat the oven to 180 C (gas mark 4).", "2. Toss the apples with the lemon juice, sugar and cinnamon.",
          "3. Rub the butter into the flour until it looks like breadcrumbs.",
          "4. Scatter the crumble over the apples and bake for 40 minutes until golden.",
          "Serve warm with custard or 1 scoop of vanilla ice cream.")
LETTER = ("14 Orchard Lane", "Bristol BS1 4DJ", "", "12 March 2026", "", "Dear Mr Patel,", "",
          "Thank you for your letter of 2 March about the parking arrangements at the surgery.",
          "We have reviewed the spaces by the main entrance and will add two more from 1 April.",
          "The car park will be closed on 28 March for resurfacing between 8 am and 6 pm.",
          "Please use the side entrance on Mill Road on that day.", "",
          "If you have any further questions, please call the practice manager on 0117 496 0123.", "",
          "Yours sincerely,", "", "Helen Ward", "Practice Manager")


def _print_text(lines, rng) -> bytes:
    pr = _Printer(None, "UK", rng, size=rng.choice((10, 11, 12)))
    for i, text in enumerate(lines):
        pr.text(pr.margin, pr.y, text, pr.bold if i == 0 else None, pr.size + (4 if i == 0 else 0))
        pr.down()
    return pr.save()


def generate(family: str, seed: int) -> Case:
    rng = random.Random(f"grammar-{family}-{seed}")
    if family in NON_LAB:
        pdf = {"blank": lambda: _Printer(None, "US", rng).save(), "recipe": lambda: _print_text(RECIPE, rng),
               "letter": lambda: _print_text(LETTER, rng)}[family]()
        return Case(family, seed, None, pdf, "UK")
    locale = rng.choice(LOCALES)
    truth = _truth(family, seed, locale, rng)
    if family == "column-groups":
        pdf = _print_columns(truth, locale, rng)
    elif family == "blocks":
        pdf = _print_blocks(truth, locale, rng)
    elif family == "one-line":
        pdf = _print_one_line(truth, locale, rng)
    elif family == "key-value":
        pdf = _print_key_value(truth, locale, rng)
    elif family in ("ruled", "landscape", "multi-page"):
        pdf = _print_table(truth, locale, rng, family=family)
    elif family == "cumulative":
        pdf, truth.rows = _print_cumulative(truth, locale, rng)
    elif family == "dotted-leader":
        pdf = _print_dotted(truth, locale, rng)
        return Case(family, seed, truth, pdf, locale, scan_dpi=150)
    else:
        raise KeyError(family)
    return Case(family, seed, truth, pdf, locale)


__all__ = ["FAMILIES", "LAB_FAMILIES", "NON_LAB", "Case", "generate", "PANELS"]
