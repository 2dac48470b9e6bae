"""Accuracy of reading + understanding, over the corpus's layouts x degradations.

For each case the ground-truth `LabReport` is rendered in a layout, degraded like a real upload,
read (`ingestion.reader.read_document`) and understood; the result is scored against the truth:
  - rows exact: LOINC, value (with comparator) or qualitative text, UCUM unit, range, flag all right;
  - header accuracy: share of the header fields (name, birth date, sex, MRN, dates, clinician,
    lab, accession) read right;
  - invented rows: result rows that match no row of the report;
  - seconds per page (reading + understanding).
"""
from __future__ import annotations

import difflib
import hashlib
import json
import random
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from evaluation.corpus import LAYOUTS, render_page_images, render_pdf
from ingestion.document import Document
from ingestion.labreport import REVIEW_THRESHOLD, LabReport, LabRow, ReferenceRange
from ingestion.understanding import understand

TEXT_PDF = "text-pdf"
HEADER_FIELDS = ("family", "given", "birth_date", "sex", "identifier", "collected", "reported",
                 "ordering_clinician", "lab_name", "accession")


@dataclass
class CaseScore:
    layout: str
    degradation: str
    seed: int
    rows: int = 0
    exact: int = 0
    invented: int = 0
    header_fields: int = 0
    header_right: int = 0
    pages: int = 0
    seconds: float = 0.0
    misses: list[str] = field(default_factory=list)
    error: str | None = None
    confident_wrong: int = 0
    lab: bool = True  # False: an input that is not a lab report (must be refused)
    refused: bool = False  # no result rows read (the in-process stand-in for a 422)
    turned: int = 0  # upright pages the reader turned (every generated page is upright)
    to_review: int = 0  # rows read that a person must check (a review reason, or low confidence)


# ---- scoring -------------------------------------------------------------------------------

def _norm(text: str | None) -> str:
    return re.sub(r"[^a-z0-9<>=.+%/-]", "", (text or "").lower())


def _same_range(truth: ReferenceRange | None, got: ReferenceRange | None) -> bool:
    if truth is None or (truth.low is None and truth.high is None and not truth.text):
        return got is None or (got.low is None and got.high is None and not got.text)
    if got is None:
        return False
    if truth.low is not None or truth.high is not None:
        return truth.low == got.low and truth.high == got.high
    return _norm(truth.text) == _norm(got.text)


def row_differences(truth: LabRow, got: LabRow) -> list[str]:
    """The fields that are wrong; empty when the row is exactly right."""
    diffs = []
    if truth.loinc != got.loinc:
        diffs.append(f"loinc {got.loinc}!={truth.loinc}")
    if truth.value is not None:
        if got.value != truth.value or (got.comparator or None) != (truth.comparator or None):
            diffs.append(f"value {got.comparator or ''}{got.value}!={truth.comparator or ''}{truth.value}")
    elif _norm(truth.value_text) != _norm(got.value_text):
        diffs.append(f"value {got.value_text!r}!={truth.value_text!r}")
    if (truth.unit or None) != (got.unit or None):
        diffs.append(f"unit {got.unit}!={truth.unit}")
    if not _same_range(truth.reference_range, got.reference_range):
        g = got.reference_range
        diffs.append(f"range {g and (g.low, g.high, g.text)}")
    if (truth.flag or None) != (got.flag or None):
        diffs.append(f"flag {got.flag}!={truth.flag}")
    return diffs


def pair_rows(truth: list[LabRow], got: list[LabRow], *, collected: str | None = None
              ) -> tuple[list[tuple[LabRow, LabRow | None]], list[LabRow]]:
    """Pair each true row with the read row of the same printed name (OCR-tolerant) and the same date
    (a cumulative report prints one test in several dated columns; a row without its own date is the
    report's, `collected`); the rest are invented."""
    free = list(got)
    pairs = []
    for t in truth:
        key = _norm(t.printed_name)
        when = row_date(t, collected)
        best = max((g for g in free if row_date(g, collected) == when),
                   key=lambda g: difflib.SequenceMatcher(None, key, _norm(g.printed_name)).ratio(), default=None)
        if best is not None and difflib.SequenceMatcher(None, key, _norm(best.printed_name)).ratio() >= 0.75:
            free.remove(best)
            pairs.append((t, best))
        else:
            pairs.append((t, None))
    return pairs, free


def row_date(row: LabRow, collected: str | None) -> str:
    return (row.effective or collected or "")[:10]


def confident(row: LabRow) -> bool:
    """Stored as a certain valueQuantity (CONTRACTS.md): a number, no review reason, confidence >= threshold."""
    return row.value is not None and not row.review_reasons and row.confidence >= REVIEW_THRESHOLD


def confident_wrong(pairs: list[tuple[LabRow, LabRow | None]], invented: list[LabRow]) -> list[str]:
    """Rows stored as certain whose LOINC, value, comparator or unit is not the truth's, or that stand
    for no row of the report at all."""
    wrong = [f"confident-wrong invented: {g.printed_name} {g.printed_value}" for g in invented if confident(g)]
    for t, g in pairs:
        if g is None or not confident(g):
            continue
        diffs = [d for d in row_differences(t, g) if d.split()[0] in ("loinc", "value", "unit")]
        if diffs:
            wrong.append(f"confident-wrong {t.printed_name}: {', '.join(diffs)}")
    return wrong


def header_values(report: LabReport) -> dict[str, str]:
    p = report.patient
    return {"family": _norm(p.family), "given": _norm(" ".join(p.given)), "birth_date": p.birth_date or "",
            "sex": p.sex or "", "identifier": _norm(p.identifier), "collected": report.collected or "",
            "reported": report.reported or "", "ordering_clinician": _norm(report.ordering_clinician),
            "lab_name": _norm(report.lab_name), "accession": _norm(report.accession)}


def score(truth: LabReport, got: LabReport, score_: CaseScore) -> CaseScore:
    pairs, invented = pair_rows(truth.rows, got.rows, collected=truth.collected)
    score_.rows, score_.invented = len(truth.rows), len(invented)
    wrong = confident_wrong(pairs, invented)
    score_.to_review = sum(1 for g in got.rows if g.needs_review)
    score_.confident_wrong = len(wrong)
    score_.misses += wrong
    for t, g in pairs:
        diffs = ["missing"] if g is None else row_differences(t, g)
        if diffs:
            score_.misses.append(f"{t.printed_name}: {', '.join(diffs)}")
        else:
            score_.exact += 1
    score_.misses += [f"invented: {g.printed_name} {g.printed_value}" for g in invented]
    want, have = header_values(truth), header_values(got)
    score_.header_fields = len(HEADER_FIELDS)
    for name in HEADER_FIELDS:
        if want[name] == have[name]:
            score_.header_right += 1
        else:
            score_.misses.append(f"header {name}: {have[name]!r}!={want[name]!r}")
    return score_


# ---- reading -------------------------------------------------------------------------------

def _reader(engine: str | None) -> Callable[[bytes], Document]:
    from ingestion.reader import read_document

    return lambda data: read_document(data, engine=engine) if engine else read_document(data)


def uploads(report: LabReport, layout_name: str, degradation: str, seed: int) -> list[bytes]:
    """The files a user would upload for this case: the text PDF, or one degraded file per page."""
    layout = LAYOUTS[layout_name]
    if degradation == TEXT_PDF:
        return [render_pdf(report, layout)]
    from evaluation.corpus.degrade import DEGRADATIONS

    degrade = DEGRADATIONS[degradation]
    return [degrade(image, random.Random(f"{layout_name}-{seed}-{degradation}-{number}"))[0]
            for number, image in enumerate(render_page_images(report, layout, dpi=300), 1)]


def read_uploads(files: list[bytes], read: Callable[[bytes], Document]) -> Document:
    pages = []
    for data in files:
        for page in read(data).pages:
            page.number = len(pages) + 1
            pages.append(page)
    return Document(media_type="application/pdf" if len(files) == 1 else "mixed", pages=pages)


def cached_read(files: list[bytes], read: Callable[[bytes], Document], cache: Path | None, case_key: str
                ) -> tuple[Document, float]:
    """Read the uploads, or reuse a stored reading of the same case (so understanding can be re-scored
    without re-running OCR); returns the document and the reading seconds."""
    key = hashlib.sha256(case_key.encode()).hexdigest()[:24]
    path = cache / f"{key}.json" if cache else None
    by_bytes = cache / f"{hashlib.sha256(b''.join(files)).hexdigest()[:24]}.json" if cache else None
    if path and not path.exists() and by_bytes.exists():  # readings stored by an earlier version, keyed by content
        path.write_text(by_bytes.read_text())
    if path and path.exists():
        doc = Document.from_json(json.loads(path.read_text()))
        return doc, sum(p.seconds for p in doc.pages)
    started = time.perf_counter()
    doc = read_uploads(files, read)
    seconds = time.perf_counter() - started
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(doc.to_json()))
    return doc, seconds


def evaluate(
    *,
    layouts: Iterable[str] | None = None,
    degradations: Iterable[str] = (TEXT_PDF,),
    seeds: Iterable[int] = (1,),
    engine: str | None = None,
    progress: Callable[[CaseScore], None] | None = None,
    cache: str | Path | None = None,
) -> list[CaseScore]:
    read = _reader(engine)
    cache = Path(cache) if cache else None
    scores = []
    for name in layouts or LAYOUTS:
        for seed in seeds:
            truth = LAYOUTS[name].report(seed)
            for degradation in degradations:
                case = CaseScore(name, degradation, seed)
                files = uploads(truth, name, degradation, seed)
                started = time.perf_counter()
                try:
                    case_key = f"{name}|{seed}|{degradation}|{engine}|{json.dumps(truth.to_json(), sort_keys=True)}"
                    doc, read_seconds = cached_read(files, read, cache, case_key)
                    case.pages = len(doc.pages)
                    started -= read_seconds - (time.perf_counter() - started)  # count reading even when cached
                    got = understand(doc)
                except Exception as exc:  # a failing case is scored as all-missed, and says why
                    case.error = f"{type(exc).__name__}: {exc}"
                    case.rows = len(truth.rows)
                    case.header_fields = len(HEADER_FIELDS)
                else:
                    score(truth, got, case)
                case.seconds = time.perf_counter() - started
                scores.append(case)
                if progress:
                    progress(case)
    return scores


# ---- reporting -----------------------------------------------------------------------------

@dataclass
class Summary:
    rows: int
    exact: int
    invented: int
    header_fields: int
    header_right: int
    pages: int
    seconds: float

    @property
    def exact_share(self) -> float:
        return self.exact / self.rows if self.rows else 0.0

    @property
    def header_share(self) -> float:
        return self.header_right / self.header_fields if self.header_fields else 0.0

    @property
    def seconds_per_page(self) -> float:
        return self.seconds / self.pages if self.pages else 0.0


def summarise(scores: list[CaseScore]) -> Summary:
    return Summary(rows=sum(s.rows for s in scores), exact=sum(s.exact for s in scores),
                   invented=sum(s.invented for s in scores), header_fields=sum(s.header_fields for s in scores),
                   header_right=sum(s.header_right for s in scores), pages=sum(s.pages for s in scores),
                   seconds=sum(s.seconds for s in scores))


def markdown_table(scores: list[CaseScore]) -> str:
    """Rows exact / header accuracy / invented rows / s per page, per layout and degradation."""
    layouts = list(dict.fromkeys(s.layout for s in scores))
    degradations = list(dict.fromkeys(s.degradation for s in scores))
    out = ["| layout | " + " | ".join(degradations) + " |", "|---|" + "---|" * len(degradations)]
    for layout in layouts:
        cells = []
        for d in degradations:
            s = summarise([c for c in scores if c.layout == layout and c.degradation == d])
            cells.append(f"{s.exact_share:.3f} / {s.header_share:.2f} / {s.invented} / {s.seconds_per_page:.2f}s")
        out.append(f"| {layout} | " + " | ".join(cells) + " |")
    totals = []
    for d in degradations:
        s = summarise([c for c in scores if c.degradation == d])
        totals.append(f"**{s.exact_share:.3f}** / {s.header_share:.2f} / {s.invented} / {s.seconds_per_page:.2f}s")
    out.append("| **all layouts** | " + " | ".join(totals) + " |")
    return "\n".join(out)


# ---- the layout grammar (issue 12): per family and input kind ------------------------------

# input kind -> the degradation applied to each page image (None: the text-layer PDF itself); a scan is
# taken at the case's own resolution (the dotted-leader page at 150 dpi), photos from 300-dpi pages
GRAMMAR_KINDS = {"text-pdf": None, "scan": "clean-300dpi", "photo": "phone-photo", "augraphy-photo": "augraphy-photo"}


def grammar_uploads(case, kind: str) -> list[bytes]:
    from evaluation.corpus.degrade import DEGRADATIONS

    degradation = GRAMMAR_KINDS[kind]
    if degradation is None:
        return [case.pdf]
    images = case.page_images(case.scan_dpi if kind == "scan" else 300)
    degrade = DEGRADATIONS[degradation]
    out = []
    for number, image in enumerate(images, 1):
        data, _ = degrade(image, random.Random(f"grammar-{case.family}-{case.seed}-{kind}-{number}"))
        out.append(data)
    return out


def evaluate_grammar(
    *,
    families: Iterable[str] | None = None,
    kinds: Iterable[str] = tuple(GRAMMAR_KINDS),
    seeds: Iterable[int] = (1,),
    engine: str | None = None,
    progress: Callable[[CaseScore], None] | None = None,
    cache: str | Path | None = None,
) -> list[CaseScore]:
    """Score the grammar's families: rows exact, confident-wrong rows, header fields, refusals of the
    inputs that are not lab reports (no result rows read counts as refused: in process there is no
    HTTP 422, which the $digitize tests check), upright pages turned, seconds per page."""
    from evaluation.corpus.grammar import FAMILIES, generate

    read = _reader(engine)
    cache = Path(cache) if cache else None
    scores = []
    for family in families or FAMILIES:
        for seed in seeds:
            case = generate(family, seed)
            for kind in kinds:
                result = CaseScore(family, kind, seed, lab=case.lab)
                files = grammar_uploads(case, kind)
                started = time.perf_counter()
                try:
                    key = f"grammar|{family}|{seed}|{kind}|{engine}|{hashlib.sha256(b''.join(files)).hexdigest()}"
                    doc, read_seconds = cached_read(files, read, cache, key)
                    result.pages = len(doc.pages)
                    result.turned = sum(1 for p in doc.pages if p.rotation)
                    started -= read_seconds - (time.perf_counter() - started)
                    got = understand(doc)
                except Exception as exc:  # noqa: BLE001  (scored as all-missed, with the reason)
                    result.error = f"{type(exc).__name__}: {exc}"
                    result.rows = len(case.truth.rows) if case.truth else 0
                    result.header_fields = len(HEADER_FIELDS) if case.truth else 0
                    result.refused = not case.lab
                else:
                    result.refused = not got.rows
                    if case.truth is not None:
                        score(case.truth, got, result)
                    else:
                        result.misses += [f"read from a non-lab page: {g.printed_name} {g.printed_value}"
                                          for g in got.rows]
                        result.confident_wrong = sum(1 for g in got.rows if confident(g))
                result.seconds = time.perf_counter() - started
                scores.append(result)
                if progress:
                    progress(result)
    return scores


def grammar_table(scores: list[CaseScore]) -> str:
    """Per family and input kind: rows exact / confident-wrong rows / header accuracy / s per page;
    non-lab inputs: refused of all; every cell notes upright pages turned, if any."""
    families = list(dict.fromkeys(s.layout for s in scores))
    kinds = list(dict.fromkeys(s.degradation for s in scores))
    out = ["| family | " + " | ".join(kinds) + " |", "|---|" + "---|" * len(kinds)]

    def cell(cases: list[CaseScore]) -> str:
        if not cases:
            return ""
        s = summarise(cases)
        wrong = sum(c.confident_wrong for c in cases)
        turned = sum(c.turned for c in cases)
        turned_note = f" / **{turned} turned**" if turned else ""
        if not any(c.lab for c in cases):
            refused = sum(c.refused for c in cases)
            return f"refused {refused}/{len(cases)} / {wrong} cw{turned_note} / {s.seconds_per_page:.2f}s"
        return (f"{s.exact}/{s.rows} = {s.exact_share:.3f} / {wrong} cw / {s.header_share:.2f}{turned_note} / "
                f"{s.seconds_per_page:.2f}s")

    for family in families:
        out.append(f"| {family} | " + " | ".join(
            cell([c for c in scores if c.layout == family and c.degradation == k]) for k in kinds) + " |")
    out.append("| **all lab families** | " + " | ".join(
        cell([c for c in scores if c.lab and c.degradation == k]) for k in kinds) + " |")
    out.append("| **non-lab inputs** | " + " | ".join(
        cell([c for c in scores if not c.lab and c.degradation == k]) for k in kinds) + " |")
    return "\n".join(out)
