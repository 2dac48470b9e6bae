"""Dates as labs print them -> ISO 8601.

ISO, US m/d/Y, European d.m.Y and d/m/Y, "12 Mar 2026", "Mar 12, 2026", "12-MAR-26", with optional
times ("08:30", "8:30 AM"). Slashed dates that could be either way follow the document's habit:
an unambiguous date elsewhere on the page decides, else dotted dates or decimal commas mean Europe.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

MONTHS = {
    m: i for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)
}
MONTH = r"(?P<mon>jan|feb|mar|apr|may|jun|jul|aug|sept?|oct|nov|dec)[a-z]*\.?"
# "08:30", "8:30 AM", and the 24-hour "0605" labs print after a date ("COLL: 04/17/2026 0605")
TIME = (r"(?:[ T,]+(?:at\s+)?(?:(?P<h>\d{1,2})[:.h](?P<mi>\d{2})(?::(?P<s>\d{2}))?\s*(?P<ampm>[ap]\.?m\.?)?|"
        r"(?P<h4>[01]\d|2[0-3])(?P<m4>[0-5]\d)(?![\d:.])))?")
PATTERNS = (
    ("ymd", re.compile(r"(?P<y>\d{4})[-/.](?P<m>\d{1,2})[-/.](?P<d>\d{1,2})" + TIME, re.I)),
    ("dot", re.compile(r"(?P<a>\d{1,2})\.(?P<b>\d{1,2})\.(?P<y>\d{4}|\d{2})(?!\d)" + TIME, re.I)),
    ("slash", re.compile(r"(?P<a>\d{1,2})[/-](?P<b>\d{1,2})[/-](?P<y>\d{4}|\d{2})(?!\d)" + TIME, re.I)),
    ("dmony", re.compile(r"(?P<d>\d{1,2})[\s-]*" + MONTH + r"[\s,-]*(?P<y>\d{4}|\d{2})(?!\d)" + TIME, re.I)),
    ("mondy", re.compile(MONTH + r"\s*(?P<d>\d{1,2})(?:st|nd|rd|th)?,?\s*(?P<y>\d{4})" + TIME, re.I)),
)
GLUED_TIME = re.compile(r"((?:[/.-]|\s|^)\d{4}|\d{4}[-/.]\d{2}[-/.]\d{2})(?=\d{1,2}[:.]\d{2}\b)")


DATE_ORDERS = ("DMY", "MDY", "YMD")
# Country markers: what a page from a day-first country prints and a US page does not, and back.
DAY_FIRST_MARKERS = (
    ("an NHS number", re.compile(r"\bnhs\s*(no|number|#)?\b", re.I)),
    ("glucose or cholesterol in mmol/L", re.compile(r"(glucose|cholesterol|triglyceride|\bhdl|\bldl).*mmol\s*/\s*l",
                                                    re.I)),
    ("creatinine in umol/L", re.compile(r"creatinine.*[uµμ]mol\s*/\s*l", re.I)),
    ("British spelling (haemoglobin, haematology, oestradiol, colour...)",
     re.compile(r"haem|oestr|anaem|\bcolour|leucocyte|foetal|\bcentre\b|\bpaediatric", re.I)),
)
MONTH_FIRST_MARKERS = (
    ("glucose or cholesterol in mg/dL", re.compile(r"(glucose|cholesterol|triglyceride|\bhdl|\bldl).*mg\s*/\s*dl",
                                                   re.I)),
    ("a CLIA number", re.compile(r"\bclia\b", re.I)),
)


@dataclass(frozen=True)
class DateOrder:
    """How a document writes a/b/Y dates: day first or month first, and why."""
    day_first: bool
    decided: bool  # evidence on the page (or the caller's date-order) decided; else a guess to flag
    evidence: str
    year_first: bool = False  # YMD given by the caller: "26/04/17" is 2026-04-17


def date_order(texts: list[str], decimal_comma: bool, given: str | None = None) -> DateOrder:
    """Day-first or month-first from the page: dates with a day above 12 decide; else country markers
    (NHS number, SI units for glucose, British spelling, a decimal comma) against US ones (mg/dL glucose,
    CLIA). `given` (DMY, MDY, YMD: the operation's date-order parameter) overrides the page."""
    if given:
        return DateOrder(day_first=given != "MDY", decided=True, evidence=f"date-order {given}",
                         year_first=given == "YMD")
    votes = 0
    for t in texts:
        for m in PATTERNS[2][1].finditer(t):
            a, b = int(m["a"]), int(m["b"])
            votes += (a > 12 and b <= 12) - (b > 12 and a <= 12)
        votes += 2 * len(PATTERNS[1][1].findall(t))
    if votes:
        return DateOrder(day_first=votes > 0, decided=True, evidence="a date on the page whose day is above 12")
    text = "\n".join(texts)
    day = [why for why, marker in DAY_FIRST_MARKERS if marker.search(text)] + (["a decimal comma"] * decimal_comma)
    month = [why for why, marker in MONTH_FIRST_MARKERS if marker.search(text)]
    if len(day) != len(month):
        chosen = day if len(day) > len(month) else month
        return DateOrder(day_first=len(day) > len(month), decided=True, evidence=", ".join(chosen))
    return DateOrder(day_first=False, decided=False, evidence="nothing on the page; month-first assumed")


def day_first_habit(texts: list[str], decimal_comma: bool) -> bool:
    """Whether ambiguous a/b/Y dates on this document are day-first."""
    return date_order(texts, decimal_comma).day_first


def ambiguous(text: str) -> bool:
    """A slashed date that reads as two real dates (03/11/1958: 3 Nov or 11 Mar)."""
    m = PATTERNS[2][1].search(GLUED_TIME.sub(r"\1 ", text or ""))
    if m is None or PATTERNS[0][1].search(text):
        return False
    a, b = int(m["a"]), int(m["b"])
    return a != b and a <= 12 and b <= 12


def parse_date(text: str, *, day_first: bool = False, with_time: bool = True, year_first: bool = False) -> str | None:
    """The first date in `text` as 'YYYY-MM-DD' or 'YYYY-MM-DDTHH:MM:SS' (`year_first`: yy/mm/dd)."""
    text = GLUED_TIME.sub(r"\1 ", text)  # OCR often drops the space in "10/13/2025 17:05"
    best = None
    for kind, pattern in PATTERNS:
        m = pattern.search(text)
        if m and (best is None or m.start() < best[1].start()):
            best = (kind, m)
    if best is None:
        return None
    kind, m = best
    try:
        if kind == "ymd":
            d = date(int(m["y"]), int(m["m"]), int(m["d"]))
        elif kind in ("dot", "slash") and year_first and len(m["y"]) == 2:
            d = date(_year(m["a"]), int(m["b"]), int(m["y"]))
        elif kind in ("dot", "slash"):
            a, b = int(m["a"]), int(m["b"])
            first_is_day = kind == "dot" or a > 12 or (day_first and b <= 12)
            day, month = (a, b) if first_is_day else (b, a)
            d = date(_year(m["y"]), month, day)
        else:
            d = date(_year(m["y"]), MONTHS[m["mon"].lower()[:3]], int(m["d"]))
    except ValueError:
        return None
    if with_time and m["h4"] is not None:
        return f"{d.isoformat()}T{int(m['h4']):02d}:{int(m['m4']):02d}:00"
    if not with_time or m["h"] is None:
        return d.isoformat()
    hour, minute, second = int(m["h"]), int(m["mi"]), int(m["s"] or 0)
    ampm = (m["ampm"] or "").lower().replace(".", "")
    if ampm == "pm" and hour < 12:
        hour += 12
    elif ampm == "am" and hour == 12:
        hour = 0
    if hour > 23 or minute > 59 or second > 59:
        return d.isoformat()
    return f"{d.isoformat()}T{hour:02d}:{minute:02d}:{second:02d}"


def _year(text: str) -> int:
    y = int(text)
    if y < 100:  # two-digit years: lab reports are about the living, so pivot on the current century
        y += 2000 if y <= date.today().year % 100 + 1 else 1900
    return y
