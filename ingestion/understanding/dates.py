"""Dates as labs print them -> ISO 8601.

ISO, US m/d/Y, European d.m.Y and d/m/Y, "12 Mar 2026", "Mar 12, 2026", "12-MAR-26", with optional
times ("08:30", "8:30 AM"). Slashed dates that could be either way follow the document's habit:
an unambiguous date elsewhere on the page decides, else dotted dates or decimal commas mean Europe.
"""
from __future__ import annotations

import re
from datetime import date

MONTHS = {
    m: i for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)
}
MONTH = r"(?P<mon>jan|feb|mar|apr|may|jun|jul|aug|sept?|oct|nov|dec)[a-z]*\.?"
TIME = r"(?:[ T,]+(?:at\s+)?(?P<h>\d{1,2})[:.h](?P<mi>\d{2})(?::(?P<s>\d{2}))?\s*(?P<ampm>[ap]\.?m\.?)?)?"
PATTERNS = (
    ("ymd", re.compile(r"(?P<y>\d{4})[-/.](?P<m>\d{1,2})[-/.](?P<d>\d{1,2})" + TIME, re.I)),
    ("dot", re.compile(r"(?P<a>\d{1,2})\.(?P<b>\d{1,2})\.(?P<y>\d{4}|\d{2})(?!\d)" + TIME, re.I)),
    ("slash", re.compile(r"(?P<a>\d{1,2})[/-](?P<b>\d{1,2})[/-](?P<y>\d{4}|\d{2})(?!\d)" + TIME, re.I)),
    ("dmony", re.compile(r"(?P<d>\d{1,2})[\s-]*" + MONTH + r"[\s,-]*(?P<y>\d{4}|\d{2})(?!\d)" + TIME, re.I)),
    ("mondy", re.compile(MONTH + r"\s*(?P<d>\d{1,2})(?:st|nd|rd|th)?,?\s*(?P<y>\d{4})" + TIME, re.I)),
)
GLUED_TIME = re.compile(r"((?:[/.-]|\s|^)\d{4}|\d{4}[-/.]\d{2}[-/.]\d{2})(?=\d{1,2}[:.]\d{2}\b)")


def day_first_habit(texts: list[str], decimal_comma: bool) -> bool:
    """Whether ambiguous a/b/Y dates on this document are day-first."""
    votes = 0
    for t in texts:
        for m in PATTERNS[2][1].finditer(t):
            a, b = int(m["a"]), int(m["b"])
            votes += (a > 12 and b <= 12) - (b > 12 and a <= 12)
        votes += 2 * len(PATTERNS[1][1].findall(t))
    return votes > 0 or (votes == 0 and decimal_comma)


def parse_date(text: str, *, day_first: bool = False, with_time: bool = True) -> str | None:
    """The first date in `text` as 'YYYY-MM-DD' or 'YYYY-MM-DDTHH:MM:SS'."""
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
        elif kind in ("dot", "slash"):
            a, b = int(m["a"]), int(m["b"])
            first_is_day = kind == "dot" or a > 12 or (day_first and b <= 12)
            day, month = (a, b) if first_is_day else (b, a)
            d = date(_year(m["y"]), month, day)
        else:
            d = date(_year(m["y"]), MONTHS[m["mon"].lower()[:3]], int(m["d"]))
    except ValueError:
        return None
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
