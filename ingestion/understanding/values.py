"""Reading the cells of a result row: numbers, comparators, flags, qualitative results, ranges.

Pure functions over strings. A `NumberStyle` says whether the document writes decimals with a
comma; it is decided once per document from all the numbers on it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from ingestion.labreport import ReferenceRange

DASHES = re.compile(r"[–—−‐‑﹣－~～]")  # "~" too: OCR reads en dashes so, and some labs print it
COMPARATOR = r"(?P<cmp><=|>=|=<|=>|≤|≥|<|>)"
NUMBER = r"(?P<num>\d[\d.,' ]*\d|\d)"
FLAG_WORDS = {
    "H": "H", "HI": "H", "HIGH": "H", "+": "H", "↑": "H", "▲": "H",
    "L": "L", "LO": "L", "LOW": "L", "-": "L", "↓": "L", "▼": "L",
    "HH": "HH", "H!": "HH", "H*": "H", "↑↑": "HH", "CRIT HIGH": "HH", "CRITICAL HIGH": "HH", "PANIC HIGH": "HH",
    "CH": "HH", "CRIT HI": "HH",
    "LL": "LL", "L!": "LL", "L*": "L", "↓↓": "LL", "CRIT LOW": "LL", "CRITICAL LOW": "LL", "PANIC LOW": "LL",
    "CL": "LL", "CRIT LO": "LL",
    "A": "A", "ABN": "A", "ABNORMAL": "A", "*": "A", "!": "A", "AA": "A", "++": "HH", "--": "LL",
    "N": "N", "NORMAL": "N", "NORM": "N",
}
# A flag glued to the value cell: "14.2 H", "14.2 (H)", "14.2 *H", "14.2H", "↑ 14.2", "14.2 HIGH".
SUFFIX_FLAG = re.compile(
    r"^(?P<body>.*?\d)\s*[\(\[]?\s*\*?\s*"
    r"(?P<flag>CRIT(?:ICAL)? HIGH|CRIT(?:ICAL)? LOW|PANIC HIGH|PANIC LOW|HIGH|LOW|HH|LL|H|L|A|↑↑|↓↓|↑|↓|"
    r"(?<=\s)\+\+|(?<=\s)--|(?<=\s)\+|(?<=\s)-)"
    r"\s*[\)\]]?\s*\*?$",
    re.I,
)
PREFIX_FLAG = re.compile(
    r"^[\(\[]?(?P<flag>↑↑|↓↓|↑|↓|\*|!|(?:CRIT(?:ICAL)? HIGH|CRIT(?:ICAL)? LOW|HIGH|LOW|HH|LL|H|L)(?=[\s\)\]]))"
    r"[\)\]]?\s*"
    r"(?P<body>[<>≤≥=]*\s*\d.*)$",
    re.I,
)

# "363 *", "0.4!": a mark that says "abnormal" without saying which way (read as A, never as H or L).
MARKER_FLAG = re.compile(r"^(?P<body>.*?\d)\s*(?P<flag>\*|!)$")
# What a panel's title row may print beside the title: the specimen, never a result.
SPECIMEN_TYPE = re.compile(r"^(specimen:?\s*)?((whole|venous|capillary|arterial) )?(serum|plasma|blood|urine|csf|"
                           r"(random |spot |24[- ]?h(ou)?r? |midstream |clean[- ]catch )?urine|stool|saliva|"
                           r"(edta|citrated?|heparin(ised|ized)?|fluoride|li-?heparin) ?(plasma|blood)?)"
                           r"(\s*\([^)]*\))?$", re.I)


@dataclass(frozen=True)
class NumberStyle:
    decimal_comma: bool = False


def number_style(texts: list[str]) -> NumberStyle:
    """Decide from every number on the document whether decimals are written with a comma."""
    comma = sum(bool(re.fullmatch(r"[<>≤≥=]*\d+,(\d{1,2}|\d{4,})", t) or re.fullmatch(r"[<>]*0,\d+", t)) for t in texts)
    dot = sum(bool(re.fullmatch(r"[<>≤≥=]*\d+\.(\d{1,2}|\d{4,})", t) or re.fullmatch(r"[<>]*0\.\d+", t)) for t in texts)
    return NumberStyle(decimal_comma=comma > dot)


def parse_number(text: str, style: NumberStyle) -> Decimal | None:
    """'1,250' -> 1250; '5,4' -> 5.4 in a decimal-comma document; a lone comma before 1-2 digits is a decimal."""
    t = text.strip().replace("'", "").replace(" ", "").replace("\u202f", "")
    t = t.replace("O", "0").replace("o", "0") if re.fullmatch(r"[\dOo.,]+", t) and re.search(r"\d", t) else t
    if not re.fullmatch(r"\d[\d.,]*", t):
        return None
    thousands, decimal = (".", ",") if style.decimal_comma else (",", ".")
    groups = t.split(thousands)
    if len(groups) > 1 and all(len(g) == 3 for g in groups[1:-1]) and len(groups[-1].split(decimal)[0]) == 3:
        t = "".join(groups)
    t = t.replace(decimal, ".")
    if t.count(",") == 1 and not style.decimal_comma:  # OCR or a stray European value: 14,2
        t = t.replace(",", ".")
    if t.count(".") > 1 or "," in t:
        return None
    try:
        return Decimal(t)
    except InvalidOperation:
        return None


def parse_flag(text: str) -> str | None:
    t = re.sub(r"[\s()\[\]]+", " ", text.strip()).strip().upper()
    if t in FLAG_WORDS:
        return FLAG_WORDS[t]
    t = t.replace(" ", "")
    return {k.replace(" ", ""): v for k, v in FLAG_WORDS.items()}.get(t)


@dataclass
class Value:
    number: Decimal | None = None
    comparator: str | None = None
    text: str | None = None  # qualitative result
    flag: str | None = None  # flag printed in the same cell
    readable: bool = True


QUALITATIVE = re.compile(
    r"^(negative|positive|neg|pos|trace|small|moderate|large|detected|not detected|non[- ]?reactive|reactive|"
    r"normal|abnormal|absent|present|nil|none seen|few|many|rare|occasional|clear|hazy|cloudy|turbid|slightly cloudy|"
    r"yellow|pale yellow|dark yellow|straw|amber|colou?rless|red|brown|orange|green|[1-4]\s?\+{1,4}|\+{1,4}|"
    r"equivocal|indeterminate|borderline|not seen|see (comment|note))$", re.I)


def normalise_comparator(c: str | None) -> str | None:
    return (
        {"<": "<", ">": ">", "<=": "<=", ">=": ">=", "=<": "<=", "=>": ">=", "≤": "<=", "≥": ">="}.get(c) if c else None
    )


def parse_value(text: str, style: NumberStyle, *, qualitative_any: bool = False) -> Value | None:
    """A result cell; None when the text is not a result at all, `readable=False` when it is garbled."""
    t = DASHES.sub("-", text.strip())
    if not t:
        return None
    flag = None
    m = PREFIX_FLAG.match(t)
    if m and parse_flag(m["flag"]):
        flag, t = parse_flag(m["flag"]), m["body"].strip()
    m = SUFFIX_FLAG.match(t) or MARKER_FLAG.match(t)
    if m and parse_number(_strip_cmp(m["body"])[1], style) is not None:
        flag, t = parse_flag(m["flag"]), m["body"].strip()
    cmp, body = _strip_cmp(t)
    number = parse_number(body, style)
    if number is not None:
        return Value(number=number, comparator=normalise_comparator(cmp), flag=flag)
    words = t.split()
    if words and QUALITATIVE.match(t):
        return Value(text=t, flag=flag)
    if words and len(words) >= 2 and parse_flag(words[-1]) and QUALITATIVE.match(" ".join(words[:-1])):
        return Value(text=" ".join(words[:-1]), flag=parse_flag(words[-1]))
    if re.search(r"\d", t) and len(t) <= 12 and not re.search(r"\d[-–]\d|[/:]", t):
        return Value(readable=False, flag=flag)  # digits we cannot read as a number: never guess
    if qualitative_any and re.fullmatch(r"[A-Za-z][A-Za-z .+-]{0,24}", t) and len(words) <= 3 and not parse_flag(t) \
            and not SPECIMEN_TYPE.match(t):
        return Value(text=t, flag=flag)
    return None


def split_unit(text: str, style: NumberStyle, unit_of) -> tuple[Value, str] | None:
    """"14.2 g/dL" -> (14.2, "g/dL"); a flag printed around both is read too: "14.2 g/dL H", "5.4 mmol/L *",
    "↑ 14.2 g/dL"."""
    split = _split_bare_unit(text, style, unit_of)
    if split is None:
        flag, body = _peel_flag(text)
        split = _split_bare_unit(body, style, unit_of) if flag else None
        if split:
            split[0].flag = flag
    return split


def _peel_flag(text: str) -> tuple[str | None, str]:
    t = text.strip()
    m = PREFIX_FLAG.match(t)
    if m and parse_flag(m["flag"]):
        return parse_flag(m["flag"]), m["body"].strip()
    if t[-1:] in "*!" and len(t) > 1:
        return "A", t[:-1].strip()
    words = t.split()
    for n in (2, 1):  # "(CRIT LOW)", "H"; "*LOW" and "*↑" as "14.2 *H" is read
        last = re.sub(r"^\*(?=[^\s*])", "", " ".join(words[-n:]))
        if len(words) >= n + 2 and parse_flag(last):
            return parse_flag(last), " ".join(words[:-n])
    return None, t


def _split_bare_unit(text: str, style: NumberStyle, unit_of) -> tuple[Value, str] | None:
    glued = re.match(r"^([<>≤≥=]*\s*\d[\d.,]*)\s*([A-Za-zµμ%].*)$", text.strip())  # "14.2g/dL"
    if glued and unit_of(glued[2]):
        value = parse_value(glued[1], style)
        if value and value.readable:
            return value, glued[2]
    words = text.split()
    for cut in range(len(words) - 1, 0, -1):
        unit = " ".join(words[cut:])
        value = parse_value(" ".join(words[:cut]), style)
        if value and value.readable and re.search(r"[A-Za-z%µμ]", unit) and unit_of(unit):
            return value, unit
    return None


def _strip_cmp(text: str) -> tuple[str | None, str]:
    m = re.match(COMPARATOR + r"\s*(?P<rest>.*)$", text.strip())
    return (m["cmp"], m["rest"].strip()) if m else (None, text.strip())


RANGE_BETWEEN = re.compile(r"^\(?\s*(?P<lo>\d[\d.,]*)\s*(?:-|to)\s*(?P<hi>\d[\d.,]*)\s*\)?$", re.I)
SEX_PART = re.compile(
    r"(?P<sex>males?|females?|men|women|m|f)\s*[:=]?\s*(?P<range>[<>≤≥=]*\s*\d[\d.,]*\s*(?:-\s*\d[\d.,]*)?)", re.I
)
WORD_BOUNDS = (("up to", "<="), ("less than", "<"), ("below", "<"), ("greater than", ">"), ("above", ">"),
               ("more than", ">"), ("over", ">"))


def parse_range(
    text: str, style: NumberStyle, *, sex: str | None = None, unit: str | None = None
) -> ReferenceRange | None:
    """'13.0-17.0', '< 200', '>=60', 'Negative', 'M: 13.5-17.5 F: 12.0-15.5' (the patient's own kept as low/high)."""
    printed = " ".join(text.split())
    if not printed:
        return None
    t = _unbracket(DASHES.sub("-", printed))
    for words, symbol in WORD_BOUNDS:
        if t.lower().startswith(words + " "):
            t = symbol + t[len(words):]
    t = _strip_unit(t)
    parts = list(SEX_PART.finditer(t))
    if len(parts) >= 2 and {p["sex"][0].lower() for p in parts} == {"m", "f"}:
        rr = ReferenceRange(text=printed)
        chosen = next((p for p in parts if sex and p["sex"][0].lower() == sex[0]), None)
        if chosen:
            own = parse_range(chosen["range"], style, unit=unit)
            if own and (own.low is not None or own.high is not None):
                rr.low, rr.high, rr.unit, rr.applies_to = own.low, own.high, unit, sex
        return rr
    m = RANGE_BETWEEN.match(t.strip())
    if m:
        low, high = parse_number(m["lo"], style), parse_number(m["hi"], style)
        if low is not None and high is not None and low <= high:
            return ReferenceRange(low=low, high=high, unit=unit, text=printed)
    cmp, body = _strip_cmp(t)
    if cmp:
        bound = parse_number(body, style)
        if bound is not None:
            c = normalise_comparator(cmp)
            if c in ("<", "<="):
                return ReferenceRange(high=bound, unit=unit, text=printed)
            return ReferenceRange(low=bound, unit=unit, text=printed)
    if re.search(r"\d", t) and not QUALITATIVE.match(t):
        return ReferenceRange(text=printed)
    return ReferenceRange(text=printed)


SEX_WORD = re.compile(r"(m|f|males?|females?|men|women)[:=]?", re.I)


def _strip_unit(text: str) -> str:
    """'13.5-17.5 g/dL', '>=60 mL/min/1.73m2', '3.5-5.1mmol/L' -> the bounds alone."""
    parts = text.split()
    while len(parts) > 1 and re.search(r"[A-Za-zµμ%]", parts[-1]) and re.search(r"\d", " ".join(parts[:-1])) \
            and not SEX_WORD.fullmatch(parts[-1]):
        parts.pop()
    if parts:
        glued = re.fullmatch(r"(.*\d)([A-Za-zµμ%][A-Za-zµμ%/\d.^*]*)", parts[-1])
        if glued and not SEX_WORD.fullmatch(glued[2]):
            parts[-1] = glued[1]
    return " ".join(parts)


def _unbracket(text: str) -> str:
    """'[3.5-5.1]', '(< 5.0)', '[>=60]': the range inside brackets or parentheses that enclose all of it."""
    m = re.fullmatch(r"\[\s*([^\[\]]*?)\s*\]|\(\s*([^()]*?)\s*\)", text.strip())
    return (m[1] if m[1] is not None else m[2]) if m else text


def looks_like_range(text: str) -> bool:
    t = _unbracket(DASHES.sub("-", text.strip()))
    return bool(RANGE_BETWEEN.match(t) or re.match(r"^(<=|>=|≤|≥|<|>)\s*\d", t) or SEX_PART.search(t) and "-" in t)


def expected_flag(value: Decimal | None, comparator: str | None, rr: ReferenceRange | None) -> str | None:
    """What value vs range says: 'H', 'L', 'N', or None when it cannot be decided."""
    if value is None or rr is None or (rr.low is None and rr.high is None):
        return None
    if comparator in ("<", "<="):  # the true value lies below the printed one
        if rr.low is not None and value <= rr.low:
            return "L"
        return "N" if rr.low is None and rr.high is not None and value <= rr.high else None
    if comparator in (">", ">="):
        if rr.high is not None and value >= rr.high:
            return "H"
        return "N" if rr.high is None and rr.low is not None and value >= rr.low else None
    if rr.high is not None and value > rr.high:
        return "H"
    if rr.low is not None and value < rr.low:
        return "L"
    return "N"


def flag_disagrees(flag: str | None, expected: str | None) -> bool:
    if flag is None or expected is None or flag == "A":
        return False
    direction = {"H": "H", "HH": "H", "L": "L", "LL": "L", "N": "N"}[flag]
    return direction != expected
