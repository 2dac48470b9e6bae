"""Header fields: who the report is about, when the specimen was taken, who ordered it, which lab.

Labels are found by their wording variants (fuzzy, for OCR slips). A value is found, in order of
preference: after the label in the same cell ("DOB: 03/12/1980"), in the next cell to the right
(key-value columns), or in the cell just below (label above value).
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from ingestion.labreport import LabReport, PatientHeader
from ingestion.understanding.dates import DateOrder, ambiguous
from ingestion.understanding.dates import parse_date as _parse_date
from ingestion.understanding.geometry import Cell, VisualRow

LABELS: dict[str, tuple[str, ...]] = {
    "name": (
        "patient name",
        "pt nm",
        "pt.",
        "pt name",
        "patient",
        "name",
        "patient's name",
        "name of patient",
        "client name",
        "patient full name",
        "pt",
        "full name",
        "patientenname",
    ),
    "family": ("surname", "last name", "family name", "lastname", "nachname", "familienname"),
    "given": (
        "first name",
        "given name",
        "given names",
        "forename",
        "forenames",
        "firstname",
        "first names",
        "vorname",
    ),
    "birth_date": (
        "dob",
        "d.o.b",
        "date of birth",
        "birth date",
        "born",
        "birthdate",
        "birth",
        "geburtsdatum",
        "geb.-datum",
        "geb-datum",
        "geb. am",
        "geboren",
        "geb.datum",
    ),
    "sex": ("sex", "gender", "sex/gender", "legal sex", "sex assigned at birth", "administrative sex", "geschlecht"),
    "age_sex": ("age/sex", "age / sex", "age/gender", "sex/age"),
    "identifier": (
        "mrn",
        "nhs number",
        "nhs",
        "mrn no",
        "med rec no",
        "med rec #",
        "pt id",
        "pt #",
        "pt no",
        "chi",
        "chi no",
        "ssn",
        "member id",
        "patient id",
        "hospital no",
        "hospital number",
        "medical record no",
        "medical record number",
        "medical record",
        "medical record #",
        "pid",
        "patient no",
        "patient number",
        "uhid",
        "mr no",
        "mr#",
        "mrn#",
        "id",
        "chart no",
        "health id",
        "nhs no",
        "reg no",
        "registration no",
        "patient #",
        "patienten-nr",
        "patientennummer",
        "pat.-nr",
        "patienten-id",
    ),
    "collected": (
        "collected",
        "coll",
        "coll date",
        "coll dt",
        "coll time",
        "coll date/time",
        "collect",
        "collect date",
        "collect dt",
        "date coll",
        "spec coll",
        "specimen coll",
        "coll'd",
        "colltd",
        "drawn dt",
        "draw date",
        "collection date",
        "specimen collected",
        "date collected",
        "collection time",
        "collection date/time",
        "sample taken",
        "sample collected",
        "sample date",
        "drawn",
        "date drawn",
        "specimen date",
        "sampling date",
        "collected on",
        "collection",
        "date/time collected",
        "date of collection",
        "collected date",
        "collection dt",
        "sample collection",
        "specimen drawn",
        "date sampled",
        "sampled",
        "entnahme",
        "entnahmedatum",
        "abnahme",
        "abnahmedatum",
        "probenentnahme",
        "entnahmezeit",
    ),
    "reported": (
        "reported",
        "rptd",
        "rpt date",
        "rpt dt",
        "reported dt",
        "resulted dt",
        "final date",
        "rep date",
        "report date",
        "date reported",
        "resulted",
        "validated",
        "released",
        "report printed",
        "reported on",
        "authorized",
        "authorised",
        "result date",
        "final report date",
        "verified",
        "date of report",
        "date/time reported",
        "reported date",
        "report date/time",
        "date resulted",
        "resulted on",
        "report generated",
        "date of result",
        "results reported",
        "report released",
        "date released",
        "date validated",
        "validated on",
        "verified on",
        "authorised on",
        "authorized on",
        "report authorised",
        "report authorized",
        "date authorised",
        "date authorized",
        "report verified",
        "befunddatum",
        "befundet am",
        "befund vom",
        "freigabe",
        "freigegeben",
        "validiert",
        "ausgabedatum",
    ),
    # the date a report was printed: the report date when nothing else says so
    "printed": ("printed", "printed on", "print date", "date printed", "printed date"),
    # dates that are neither collection nor report: read so their values are not taken for something else
    "received": (
        "received",
        "rcvd",
        "rcvd date",
        "rcvd dt",
        "recd",
        "rec'd",
        "recv",
        "recv'd",
        "received dt",
        "rec date",
        "date received",
        "received date",
        "received on",
        "specimen received",
        "sample received",
        "date/time received",
        "receipt date",
        "registered",
        "registration date",
        "ordered",
        "order date",
        "date ordered",
        "eingang",
        "eingangsdatum",
        "probeneingang",
    ),
    "clinician": (
        "ordering physician",
        "ord md",
        "ord. md",
        "ord dr",
        "ord phys",
        "ord physician",
        "ord prov",
        "ord provider",
        "ordering",
        "ref dr",
        "ref. dr",
        "ref doc",
        "ref md",
        "ref phys",
        "ref physician",
        "referring",
        "req md",
        "req dr",
        "attn",
        "md",
        "requested by",
        "referring dr",
        "referring doctor",
        "referring physician",
        "ordered by",
        "physician",
        "doctor",
        "ordering provider",
        "ordering clinician",
        "referred by",
        "consultant",
        "provider",
        "requesting physician",
        "ref. by",
        "ref by",
        "dr",
        "attending physician",
        "attending",
        "attending doctor",
        "sender",
        "requesting doctor",
        "ordering doctor",
        "requester",
        "submitting physician",
        "clinician",
        "ordering md",
        "treating physician",
        "einsender",
        "anforderer",
        "authorizing provider",
        "authorising provider",
        "authorizing physician",
        "authorising clinician",
        "behandelnder arzt",
        "arzt",
    ),
    "accession": (
        "accession",
        "acc",
        "acc #",
        "acc no",
        "accn #",
        "accn no",
        "spec #",
        "spec no",
        "spec id",
        "lab acc",
        "accession #",
        "accession no",
        "accession number",
        "lab no",
        "lab number",
        "specimen no",
        "specimen id",
        "sample id",
        "sample no",
        "order no",
        "order number",
        "requisition",
        "requisition no",
        "lab id",
        "lab ref",
        "barcode",
        "specimen #",
        "accn",
        "case no",
        "order #",
        "order id",
        "request no",
        "request number",
        "request id",
        "requisition #",
        "specimen number",
        "lab #",
        "sample number",
        "report no",
        "report id",
        "report number",
        "auftragsnummer",
        "auftrags-nr",
        "auftrag",
        "labornummer",
        "labor-nr",
        "probennummer",
        "proben-nr",
    ),
    # a labelled performing lab: the one way besides a letterhead that names the lab
    "lab": ("lab", "laboratory", "performed at", "performing lab", "performing laboratory", "testing laboratory",
            "lab name", "performed by", "performing site", "tested at", "testing site"),
    # "Specimen: S26-264795" names the accession; "Specimen: Serum" names a specimen type
    "specimen": ("specimen", "sample", "spec"),
    # an account or visit number: read so its value is not taken for the MRN or the accession
    "account": ("acct", "acct #", "acct no", "account", "account no", "account number", "account #", "visit no",
                "visit number", "visit #", "fin", "fin #", "csn", "encounter no", "encounter #"),
}
# Longest wordings first, so "patient id" wins over "patient" and "collection date" over "collection".
_ALL = sorted(((w, field) for field, words in LABELS.items() for w in words), key=lambda p: -len(p[0]))
ABBREVIATIONS = {"mrn", "dob", "pid", "uhid", "mrn#", "mr#", "accn", "coll", "rcvd", "acct", "ord md", "ref dr"}
GENERIC_TITLE = {"lab", "laboratory", "test", "tests", "report", "results", "result", "final", "cumulative",
                 "patient", "clinical", "medical", "pathology", "diagnostic", "analysis", "of", "the", "and", "&"}


@dataclass
class FoundLabel:
    field: str
    cell: Cell
    rest: str  # text after the label in the same cell


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[:#.]+$", "", text.strip().lower())).strip()


def match_label(text: str) -> tuple[str, str] | None:
    """(field, remaining text) when `text` starts with a label; tolerant of one OCR slip in long labels."""
    stripped = text.strip()
    low = stripped.lower().replace(".", "")  # "D.O.B.", "Pt. Name", "Accession No.:" read without dots
    for words, field in _ALL:
        words = words.replace(".", "")
        if not low.startswith(words):
            continue
        rest = stripped[_after_chars(stripped, len(words)):]
        if not rest.strip(" ."):
            return field, ""
        after = rest.lstrip(" .")
        if after[0] in ":#" or (rest[0] == "." and words in ABBREVIATIONS):
            return field, after.lstrip(":#. \t")
        if rest[0] == " " and (words in ABBREVIATIONS or " " in words and len(words) >= 9):
            return field, after  # "Ordering Physician Chen, Sarah MD": a long label needs no colon
    head, sep, rest = stripped.partition(":")
    if sep and 5 <= len(head) <= 28:
        close = difflib.get_close_matches(_norm(head), [w for w, _ in _ALL if len(w) >= 5], n=1, cutoff=0.84)
        if close:
            return dict(_ALL)[close[0]], rest.strip()
    return None


def _after_chars(text: str, n: int) -> int:
    """Index in `text` just after its first `n` characters that are not dots."""
    seen = 0
    for i, ch in enumerate(text):
        if seen == n:
            return i
        seen += ch != "."
    return len(text)


# Fields a lab prints after another on one line ("DOB: 03/11/1958  Sex: M", "COLL: ... RCVD: ...").
EMBEDDABLE = {"sex", "age_sex", "birth_date", "collected", "received", "reported", "printed", "account"}
EMBEDDED_LABEL = re.compile(r"\s(?=[A-Za-z][A-Za-z .#/']{1,24}:)")


def find_labels(rows: list[VisualRow]) -> list[tuple[VisualRow, FoundLabel]]:
    """Every label: at the start of a cell, and inside one after a value ("DOB: 03/11/1958  Sex: M")."""
    found, embedded = [], []
    for row in rows:
        for cell in row.cells:
            hit = match_label(cell.text)
            if hit:
                found.append((row, FoundLabel(hit[0], cell, hit[1])))
                for m in EMBEDDED_LABEL.finditer(cell.text):
                    inner = match_label(cell.text[m.end():])
                    if inner and inner[1] and inner[0] in EMBEDDABLE and ":" in cell.text[m.end():m.end() + 30]:
                        embedded.append((row, FoundLabel(inner[0], cell, inner[1])))
    return found + embedded  # a label of its own cell wins over one found inside another's value


DATE_FIELDS = {"birth_date": "birth date", "collected": "collection date", "reported": "report date",
               "printed": "print date", "received": "received date"}


def read_header(rows: list[VisualRow], *, day_first: bool, order: DateOrder | None = None) -> LabReport:
    """Header fields from the rows above the first results table (and the report's first page).

    `order` says how dates are written and whether the page decided it: a date it leaves ambiguous
    (03/11/1958) is read as `day_first` says and warned of, never guessed in silence."""
    report = LabReport()
    year_first = bool(order and order.year_first)

    def parse_date(text, *, day_first, with_time=True):
        return _parse_date(text, day_first=day_first, with_time=with_time, year_first=year_first)

    labels = find_labels(rows)
    label_cells = {id(f.cell) for _, f in labels}
    values: dict[str, str] = {}
    for row, found in labels:
        if found.field in values:
            continue
        value = (
            found.rest or _value_right(row, found.cell, label_cells) or _value_below(rows, row, found.cell, label_cells)
        )
        value = _cut_at_next_label(value or "")
        if value:
            values[found.field] = value
    patient = PatientHeader()
    if "name" not in values and not ("family" in values and "given" in values):
        unlabelled = _name_under_patient_title(rows, label_cells)
        if unlabelled:
            values["name"] = unlabelled
    if "name" in values:
        patient.name = values["name"]
        patient.family, patient.given = split_person_name(values["name"])
    elif "family" in values:  # surname and first name under their own labels
        family = split_person_name(values["family"])[0]  # each on its own: "JOHNSON" and "Kwame M"
        given = split_person_name(", " + values.get("given", ""))[1]
        patient.name = " ".join([*given, family or ""]).strip()
        patient.family, patient.given = family, given
    if "birth_date" in values:
        patient.birth_date = parse_date(values["birth_date"], day_first=day_first, with_time=False)
    patient.sex = parse_sex(values.get("sex") or values.get("age_sex") or "")
    if "identifier" in values:
        patient.identifier = identifier_value(values["identifier"])
    report.patient = patient
    report.collected = parse_date(values.get("collected", ""), day_first=day_first)
    report.reported = parse_date(values.get("reported", ""), day_first=day_first) or \
        parse_date(values.get("printed", ""), day_first=day_first)
    if "clinician" in values:
        report.ordering_clinician = clinician_name(values["clinician"])
    accession = values.get("accession") or values.get("specimen", "")
    if accession and (values.get("accession") or re.search(r"\d", accession)):
        report.accession = identifier_value(accession)
    report.status = report_status(rows)
    labelled_lab = values.get("lab", "")
    if order is not None and not order.decided:
        for name, words in DATE_FIELDS.items():
            printed = values.get(name, "")
            if printed and ambiguous(printed):
                read = parse_date(printed, day_first=day_first, with_time=False)
                report.warnings.append(
                    f"The {words} '{printed}' could be day-first or month-first and nothing on the page decides: "
                    f"read as {read} (month-first); set the date-order parameter (DMY, MDY or YMD) to be sure")
    # A labelled "Lab:" / "Performed at:" line names the lab when its value is a name (letters, not a number).
    named = len(re.findall(r"[A-Za-z]", labelled_lab)) >= 3 and not re.search(r"\d{3}", labelled_lab)
    report.lab_name = labelled_lab if named else lab_name(rows, label_cells)
    return report


REPORT_STATUS = re.compile(r"\b(corrected|amended|revised|addendum)\b(?:\s+(?:final\s+)?(?:report|result)s?)?|"
                           r"(?:report\s+)?status\s*:?\s*(corrected|amended)\b", re.I)


def report_status(rows: list[VisualRow]) -> str | None:
    """'CORRECTED REPORT', 'Amended report', 'Status: Corrected': the report replaces an earlier one."""
    for row in rows:
        m = REPORT_STATUS.search(row.text)
        if m and (m[2] or m[0].lower().endswith(("report", "reports", "result", "results")) or
                  len(row.text.split()) <= 4):
            word = (m[2] or m[1]).lower()
            return "amended" if word in ("amended", "addendum") else "corrected"
    return None


def identifier_value(text: str) -> str:
    """An identifier as printed, whole: '943 476 5919' (an NHS number in groups) -> '9434765919';
    otherwise the first word ('MRN4711 (hospital)' -> 'MRN4711')."""
    text = text.strip()
    grouped = re.match(r"\d{2,5}(?: \d{2,5})+(?!\S)", text)
    if grouped and 6 <= len(grouped[0].replace(" ", "")) <= 16:
        return grouped[0].replace(" ", "")
    return text.split()[0] if text else text


PATIENT_TITLE = re.compile(r"^(patient|patient information|patient details|patient data|patient demographics|"
                           r"patient info|patient identification)$", re.I)


def _name_under_patient_title(rows: list[VisualRow], label_cells: set[int]) -> str | None:
    """A block titled "PATIENT INFORMATION" whose first line is the name, printed without a label."""
    for row in rows:
        for cell in row.cells:
            if PATIENT_TITLE.match(cell.text.strip(" :")):
                value = _value_below(rows, row, cell, label_cells)
                if value and looks_like_person_name(value):
                    return value
    return None


def looks_like_person_name(text: str) -> bool:
    """'GARCIA, MICHAEL J', 'Jane A. Doe': two to five words of letters, no digits, no label."""
    words = text.replace(",", " ").split()
    return 2 <= len(words) <= 5 and not re.search(r"[\d:@]", text) and \
        all(re.fullmatch(r"[A-Za-z][A-Za-z'.-]*", w) for w in words)


def _value_right(row: VisualRow, cell: Cell, label_cells: set[int]) -> str | None:
    i = next(i for i, c in enumerate(row.cells) if c is cell)
    if i + 1 < len(row.cells):
        nxt = row.cells[i + 1]
        if id(nxt) not in label_cells and nxt.x0 - cell.x1 < 12 * max(t.height for t in cell.tokens):
            return nxt.text
    return None


def _value_below(rows: list[VisualRow], row: VisualRow, cell: Cell, label_cells: set[int]) -> str | None:
    """Label above value: the words of the next row that start under the label and stop before the next label."""
    below = [r for r in rows if r.page == row.page and r.yc > row.yc and r.y0 - row.y1 < 2.5 * row.height]
    next_label = min((c.x0 for c in row.cells if c.x0 > cell.x1 and id(c) in label_cells), default=float("inf"))
    h = row.height
    for r in sorted(below, key=lambda r: r.yc)[:1]:
        label_tokens = {id(t) for c in r.cells if id(c) in label_cells for t in c.tokens}
        words = [t for t in r.tokens if id(t) not in label_tokens and cell.x0 - 3 * h < t.x0 < next_label - 0.5 * h
                 and t.x1 > cell.x0 - h]
        if words and abs(words[0].x0 - cell.x0) < 3 * h:
            return " ".join(t.text for t in words)
    return None


def _cut_at_next_label(value: str) -> str:
    """'JANE DOE  DOB: 1/2/80' in one cell: stop at the next 'Label:'."""
    m = re.search(r"\s(?=[A-Z][A-Za-z .#/]{1,24}:)", value)
    if m and match_label(value[m.end():]):
        value = value[: m.start()]
    return value.strip(" ,;|")


def split_person_name(name: str) -> tuple[str | None, list[str]]:
    """'DOE, JANE A' or 'Jane A Doe' -> ('Doe', ['Jane', 'A']); all-caps names become title case."""
    clean = re.sub(r"\s+", " ", re.sub(r"^(mr|mrs|ms|miss|dr|mx)\.?\s+", "", name.strip(), flags=re.I))
    if clean.isupper():
        clean = " ".join(p.capitalize() if len(p) > 1 else p for p in clean.split(" "))
        clean = re.sub(r"\b(Mc|O')([a-z])", lambda m: m[1] + m[2].upper(), clean)
    if "," not in clean and re.match(r"^[^\s.]{2,}\.\s+\S", clean):  # "GARCIA. PEDRO": OCR read the comma as a dot
        clean = clean.replace(".", ",", 1)
    if "," in clean:
        family, _, given = clean.partition(",")
        return family.strip() or None, given.split()
    parts = clean.split()
    if not parts:
        return None, []
    return parts[-1], parts[:-1]


def parse_sex(text: str) -> str | None:
    words = re.findall(r"[a-z]+", text.lower())
    for w in words:
        if w in ("m", "male", "man", "masculino", "männlich"):
            return "male"
        if w in ("f", "female", "woman", "w", "femenino", "weiblich"):
            return "female"
        if w in ("u", "unknown"):
            return "unknown"
        if w in ("o", "other", "x"):
            return "other"
    return None


def clinician_name(text: str) -> str:
    """'Dr. Sarah Chen', 'Chen, Sarah MD' -> 'Sarah Chen'."""
    t = re.sub(r"^((dr|doctor|prof)\.?\s+)+(med\.?\s+)?", "", text.strip(), flags=re.I)  # "Dr. med."
    degree = re.search(r",?\s+(md|do|mbbs|phd|np|pa-c|pa|rn|dnp|frcp|mrcp)\.?$", t, flags=re.I)
    t = t[:degree.start()].strip(" ,") if degree else t
    if degree and "," not in t:  # "O'Brien. Michael MD": OCR read the comma of "Last, First MD" as a dot
        t = re.sub(r"^([^\s.]+)\.\s+", r"\1, ", t)
    if "," in t:
        family, _, given = t.partition(",")
        t = f"{given.strip()} {family.strip()}"
    return t


# What makes a line evidently a lab's name: a word labs and hospitals name themselves with.
LAB_WORDS = re.compile(r"lab(?!el)|patholog|diagnost|clinic|klinik|hospital|spital|krankenhaus|infirmary|"
                       r"medical (cent|group|services)|health|nhs\b|institut|biolog|analys|biochem|haematolog|"
                       r"hematolog|specimen|reference lab|quest|sonic|synevo|cerba|eurofins", re.I)


def looks_like_org(text: str) -> bool:
    """'Acme Labs Inc', 'Northside Clinical Services Ltd': a company form after a name."""
    return bool(re.search(r"\b(inc|ltd|llc|gmbh|plc|pty|corp|s\.?a|lp|llp|pllc|ag)\.?$", text.strip(), re.I))


def lab_name(rows: list[VisualRow], label_cells: set[int]) -> str | None:
    """The letterhead: the topmost text of the first page that is not a generic title, a label or small
    print, and evidently a lab's name (LAB_WORDS): arbitrary text at the top is never taken for a lab.

    Position, not size, decides: OCR boxes are too uneven in height to compare font sizes.
    """
    first = [r for r in rows if r.page == min((r.page for r in rows), default=1)][:8]
    heights = sorted(t.height for r in first for t in r.tokens)
    typical = heights[len(heights) // 2] if heights else 0
    for r in first:
        for c in r.cells:
            words = re.findall(r"[a-z&]+", c.text.lower())
            if id(c) in label_cells or not words or set(words) <= GENERIC_TITLE or re.search(r"\d{3}", c.text):
                continue
            if match_label(c.text) or max(t.height for t in c.tokens) < 0.8 * typical:
                continue
            if LAB_WORDS.search(c.text) or looks_like_org(c.text):
                return c.text
    return None
