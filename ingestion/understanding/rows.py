"""From a raw table row (cells per column) to a `LabRow`: value, unit, range, flag, code, provenance.

Only what the page says is reported: a flag is read (column, suffix, arrow, or placement in an
'out of range' column), never invented; it is then checked against value and range and a
disagreement is marked, not corrected. A value that cannot be read is absent, never guessed.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from ingestion.document import Box
from ingestion.labreport import LabRow, Region
from ingestion.understanding.geometry import union
from ingestion.understanding.table import VALUE_KINDS, RawRow, doubtful_value
from ingestion.understanding.values import (
    NumberStyle,
    Value,
    expected_flag,
    flag_disagrees,
    parse_flag,
    parse_range,
    parse_value,
    split_unit,
)
from resources.ucum import convert

UnitNormaliser = Callable[[str], "str | None"]
TestMatcher = Callable[..., object]


@dataclass
class RowContext:
    style: NumberStyle
    sex: str | None
    unit_of: UnitNormaliser
    match_test: TestMatcher | None


def _limits_text(raw: RawRow) -> str:
    """A range printed as a Low and a High column, written as one range: "65 - 99", "<= 200", ">= 60"."""
    low, high = raw.text("range_low").strip(), raw.text("range_high").strip()
    if low and high:
        return f"{low} - {high}"
    return f"<= {high}" if high else f">= {low}" if low else ""


def _unit_in_name(name: str, ctx: RowContext) -> tuple[str, str]:
    """"Glucose (mg/dL)" -> ("Glucose", "mg/dL"): a unit in the name's closing brackets, where a report has
    no Units column; brackets holding anything that is not a unit ("(fasting)", "(CKD-EPI)") stay."""
    m = re.fullmatch(r"(.*\S)\s+[(\[]\s*([^()\[\]]+?)\s*[)\]]", name)  # set apart: "Lp(a)" is a name
    symbol = m and re.fullmatch(r"[A-Z][a-z]?\d*[+-]*", m[2])  # "Magnesium (Mg)", "(Na+)": the element, not mg
    unit = ctx.unit_of(m[2]) if m and not symbol and (len(m[2]) > 1 or m[2] == "%") and \
        re.search(r"[A-Za-z%µμ/]", m[2]) else None
    if unit and not unit.startswith("{"):  # "INR (ratio)", "(index)": words, not the unit of a column
        return m[1], m[2]
    return name, ""


def build_row(raw: RawRow, ctx: RowContext) -> LabRow:
    name = " ".join(raw.text("name").split()).strip(" .:").rstrip(" .:…·_")  # dotted leaders, "…" as OCR reads them
    name, unit_in_name = _unit_in_name(name, ctx)
    value_kind = next((k for k in VALUE_KINDS if raw.text(k)), None)
    value_text = raw.text(value_kind) if value_kind else ""
    unit_text = raw.text("unit").strip() or unit_in_name
    value = parse_value(value_text, ctx.style, qualitative_any=True) if value_text else None
    if value_text and (value is None or not value.readable):  # "14.2 g/dL" in one cell
        split = split_unit(value_text, ctx.style, ctx.unit_of)
        if split:
            value, unit_text = split[0], unit_text or split[1]
    range_text = " ".join([raw.text("range")] + [c.text for c in raw.extra_range]).strip() or _limits_text(raw)
    if not unit_text and range_text:  # "13.5-17.5 g/dL" in the range cell
        tail = range_text.split()[-1]
        if re.search(r"[A-Za-z%µμ]", tail) and ctx.unit_of(tail):
            unit_text = tail
    ucum = _read_unit(unit_text, ctx) if unit_text and not re.fullmatch(r"[\d.,\s]+", unit_text) else None
    row = LabRow(printed_name=name, printed_value=value_text.strip(), printed_unit=unit_text or None, unit=ucum,
                 panel=raw.panel, comment=" ".join(raw.comments) or None)
    row.reference_range = parse_range(range_text, ctx.style, sex=ctx.sex, unit=ucum) if range_text else None
    not_given = _absent_by_wording(value_text)
    if not_given:
        row.absent_reason = not_given
    elif value is None or not value.readable:
        row.absent_reason = "error" if value_text else "unknown"
    elif value.number is not None:
        row.value, row.comparator = value.number, value.comparator
    else:
        row.value_text = value.text
    row.flag = _flag(raw, value, value_kind, row)
    if row.value is not None:
        row.flag_disagrees = flag_disagrees(row.flag, expected_flag(row.value, row.comparator, row.reference_range))
    row.specimen = _specimen(raw.panel, name)
    row.effective = raw.effective
    row.review_reasons += doubtful_value(raw, value_kind)
    _code(row, ctx)
    row.review_reasons += _doubtful_reading(row, ctx)
    tokens = raw.tokens
    row.confidence = round(min(t.confidence for t in tokens), 4) if tokens else 0.0
    row.region = Region(page=raw.page, box=_box(tokens))
    return row


UNITLESS = {"1", "{ratio}", "{INR}", "[pH]", ""}


def _doubtful_reading(row: LabRow, ctx: RowContext) -> list[str]:
    """A number that cannot be stored as certain: its test is not recognised, or its unit was not
    read although the test is reported in units (a unit lost, or taken by the row next to it)."""
    if row.value is None or ctx.match_test is None:
        return []
    if row.loinc is None:
        return [f"test not recognised ({row.printed_name!r}): no LOINC code, check what was measured"]
    if row.unit is None:
        match = _first_match(row, ctx, None)
        units = tuple(getattr(match[1], "units", ()) or ()) if match else ()
        if units and not set(units) & UNITLESS:
            return [f"no unit read for {row.printed_name} (reported in {units[0]}): check the unit"]
    return []


# Words labs print instead of a result, and the data-absent-reason each means.
ABSENT_WORDING = (
    (re.compile(r"^(pending|in progress|to follow|awaited|tba)\b", re.I), "temp-unknown"),
    (re.compile(r"^(cancel+ed|not (done|performed|tested)|qns|quantity not sufficient|insufficient|hemoly[sz]ed|"
                r"haemoly[sz]ed|clotted|specimen rejected)\b", re.I), "not-performed"),
    (re.compile(r"^(see (note|comment|below|report)|refer to)\b", re.I), "as-text"),
)


def _absent_by_wording(text: str) -> str | None:
    return next((reason for pattern, reason in ABSENT_WORDING if pattern.match(text.strip())), None)


def _read_unit(printed: str, ctx: RowContext) -> str | None:
    """UCUM code of a printed unit; a final litre read as 1, I or | ("mmol/1") is read as l."""
    code = ctx.unit_of(printed)
    if code is None and re.search(r"/[1I|]$", printed):
        code = ctx.unit_of(printed[:-1] + "l")
    return code


def _flag(raw: RawRow, value: Value | None, value_kind: str | None, row: LabRow) -> str | None:
    flag_cell = raw.text("flag").strip()
    if flag_cell:
        flag = parse_flag(flag_cell)
        if flag:
            return flag
    if value is not None and value.flag:
        return value.flag
    if value_kind == "out_of_range" and value is not None and value.readable:
        # placement is the page saying "abnormal"; the direction comes from the printed range
        direction = (
            expected_flag(value.number, value.comparator, row.reference_range) if value.number is not None else None
        )
        return direction if direction in ("H", "L") else "A"
    return None


def _specimen(panel: str | None, name: str) -> str | None:
    text = f"{panel or ''} {name}".lower()
    if re.search(r"urin|\bua\b|dipstick", text):
        return "urine"
    return None


def _code(row: LabRow, ctx: RowContext) -> None:
    if ctx.match_test is None or not row.printed_name:
        return
    row.review_reasons[:] = [r for r in row.review_reasons if not r.startswith(LOOSE_REASON)]  # coded afresh
    match = _first_match(row, ctx, row.unit)
    if match is None and row.unit is not None:
        by_name = _first_match(row, ctx, None)  # the unit may be an OCR slip: see what the test expects
        corrected = _unit_misread(row, by_name[1]) if by_name else None
        match = _first_match(row, ctx, corrected) if corrected else None
    elif match is not None and _unit_misread(row, match[1]):
        corrected = _unit_misread(row, match[1])
        match = _first_match(row, ctx, corrected) or match
    else:
        corrected = None
    if match is None:
        return
    if corrected and match[1].loinc:  # "u/" or "UL" printed where the test's unit is U/L: fixed
        row.unit = corrected
        if row.reference_range and (row.reference_range.low is not None or row.reference_range.high is not None):
            row.reference_range.unit = corrected
    row.loinc, row.loinc_display = match[1].loinc, match[1].display
    score = getattr(match[1], "score", 1.0) / (0.6 if getattr(match[1], "kind", "") == "name-only" else 1.0)
    if score < LOOSE_MATCH:  # a guessed code is a wrong code as often as not: a person checks it
        row.review_reasons.append(f"{LOOSE_REASON}'{row.printed_name}' matched {row.loinc} only loosely")


LOOSE_MATCH = 0.85
LOOSE_REASON = "test name "


def _first_match(row: LabRow, ctx: RowContext, unit: str | None):
    for name in name_readings(row.printed_name):
        found = ctx.match_test(name, unit, specimen=row.specimen)
        if found is not None:
            return name, found
    return None


def name_readings(name: str):
    """The printed name, then readings that forgive what OCR and labs add: a trailing qualifier in
    parentheses ("Estimated GFR (CKD-EPI 2021)"), a space inside a word ("Stimulat ing")."""
    yield name
    bare = re.sub(r"\s*\([^)]*\)\s*$", "", name)
    if bare and bare != name:
        yield bare
    words = name.split()
    for i in range(1, len(words)):  # "St imulating", "Stimulat ing": a lowercase fragment continues a word
        if re.fullmatch(r"[a-z]+", words[i]) and re.search(r"[A-Za-z]$", words[i - 1]):
            yield " ".join(words[:i - 1] + [words[i - 1] + words[i]] + words[i + 1:])


def _unit_misread(row: LabRow, match) -> str | None:
    expected = tuple(getattr(match, "units", ()) or ())
    printed = (row.printed_unit or "").strip()
    if not expected or row.unit in expected or not printed:
        return None
    plain = printed.lower().replace("µ", "u")
    same_letters = [u for u in expected if u.lower() == plain]  # "S" for seconds: a case slip
    if len(same_letters) == 1:
        return same_letters[0]
    if len(printed) < 2 or _real_other_unit(row.unit, expected):
        return None
    close = [u for u in expected if _one_edit(plain, u.lower().replace("[", "").replace("]", ""))]
    return close[0] if len(close) == 1 else None


def _real_other_unit(unit: str | None, expected: tuple[str, ...]) -> bool:
    """A printed unit that is a real unit of the same kind ("/nl" where the test expects /uL) is a
    different scale, not an OCR slip one letter away: never 'corrected' into a factor-1000 error."""
    if not unit:
        return False
    return any(convert(Decimal(1), unit, u) is not None for u in expected)


def _one_edit(a: str, b: str) -> bool:
    if a == b or abs(len(a) - len(b)) > 1:
        return a == b
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b)) == 1
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    return any(long_[:i] + long_[i + 1:] == short for i in range(len(long_)))


URINE_ONLY = re.compile(r"specific gravity|sp\.? ?gr|nitrite|leu[ck]ocyte esterase|urobilinogen|^colou?r$|"
                        r"^appearance$|^clarity$|^turbidity$", re.I)


def mark_urine_sections(rows: list[LabRow], ctx: RowContext) -> None:
    """A dipstick block without a 'Urinalysis' heading: rows next to urine-only tests (specific gravity,
    nitrite, leukocyte esterase, colour...) that are qualitative or unitless are urine tests too."""
    def dipstick(row: LabRow) -> bool:
        return row.value_text is not None or row.unit is None

    for i, row in enumerate(rows):
        if row.specimen or not URINE_ONLY.search(row.printed_name):
            continue
        lo = hi = i
        while lo > 0 and rows[lo - 1].panel == row.panel and dipstick(rows[lo - 1]):
            lo -= 1
        while hi + 1 < len(rows) and rows[hi + 1].panel == row.panel and dipstick(rows[hi + 1]):
            hi += 1
        for other in rows[lo:hi + 1]:
            if other.specimen is None:
                before = (other.loinc, other.loinc_display)
                other.specimen = "urine"
                other.loinc = other.loinc_display = None
                _code(other, ctx)
                if other.loinc is None:  # not a urine test after all (an INR next to the dipstick block)
                    other.specimen, (other.loinc, other.loinc_display) = None, before


def _box(tokens) -> Box:
    return union(tokens) if tokens else (0.0, 0.0, 0.0, 0.0)
