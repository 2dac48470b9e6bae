"""OCR evaluation over the corpus: report layouts x degradations x engines.

Ground truth comes from the corpus itself: the page text is the text layer of the report's PDF
(read exactly by pdfplumber), the table cells are what `evaluation.corpus.layouts.cells` prints for
each result row. Metrics per page:
- CER: character edit distance between the page's OCR text and its true text (lines joined by
  newlines, runs of spaces collapsed), over the true text's length;
- cells exact: a result row is found as the OCR line closest to the row's true line; a cell is read
  exactly when its words appear, in order and unchanged, in that line;
- cells exact, dashes folded: the same, with the dash variants (en dash, em dash, hyphen, minus sign)
  counted as one character. Reported next to the strict figure, never instead of it: a reader that
  turns "44 – 80" into "44 - 80" still gives later stages the same range.
"""
from __future__ import annotations

import random
import re
import statistics
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass

import numpy as np

from evaluation.corpus import LAYOUTS, render_page_images, render_pdf
from evaluation.corpus.degrade import DEGRADATIONS
from evaluation.corpus.layouts import Layout, cells
from ingestion.document import Document, Page
from ingestion.reader import read_document

DEFAULT_LAYOUTS = ("classic", "hospital-grid", "suffix-flags", "flag-first", "si-european", "no-table-header")
ENGINES = ("onnxruntime", "paddle_static", "tesseract")
TEXT_PDF = "text-pdf"


@dataclass
class Case:
    layout: str
    seed: int
    page: int
    degradation: str  # a DEGRADATIONS key or "text-pdf"
    data: bytes
    truth_lines: list[str]
    truth_cells: list[list[str]]  # per result row on this page, the printed cells


@dataclass
class Score:
    engine: str
    layout: str
    seed: int
    page: int
    degradation: str
    cer: float
    cells_exact: int
    cells_total: int
    seconds: float
    cells_exact_folded: int = 0  # dash variants counted as one character (see module docstring)
    rotation: int = 0
    skew: float = 0.0
    misses: list[str] | None = None  # cells not read exactly, with the line they were looked for in


def corpus_cases(layouts: Iterable[str], seeds: Iterable[int], degradations: Iterable[str]) -> Iterator[Case]:
    degradations = list(degradations)
    for name in layouts:
        layout = LAYOUTS[name]
        for seed in seeds:
            report = layout.report(seed)
            pdf = render_pdf(report, layout)
            truth = read_document(pdf)  # the text layer: exact by construction
            images = render_page_images(report, layout, dpi=300) if set(degradations) - {TEXT_PDF} else []
            for number, truth_page in enumerate(truth.pages, start=1):
                lines = [normalise(line.text) for line in truth_page.lines]
                rows = rows_on_page(report.rows, layout, lines)
                for degradation in degradations:
                    if degradation == TEXT_PDF:
                        data = pdf if number == 1 else b""  # the whole PDF is scored once, on page 1's truth
                        if not data:
                            continue
                    else:
                        rng = random.Random(f"{name}-{seed}-{degradation}-{number}")
                        data, _ = DEGRADATIONS[degradation](images[number - 1], rng)
                    yield Case(name, seed, number, degradation, data, lines, rows)


def rows_on_page(rows: list, layout: Layout, lines: list[str]) -> list[list[str]]:
    kinds = [column.kind for column in layout.columns]
    page_rows = []
    for row in rows:
        printed = cells(row, layout)
        row_cells = [normalise(printed[kind]) for kind in kinds if printed.get(kind, "").strip()]
        if row_cells and any(contains(line.split(), row_cells[0].split()) for line in lines):
            page_rows.append(row_cells)
    return page_rows


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


DASHES = str.maketrans({"\u2013": "-", "\u2014": "-", "\u2010": "-", "\u2011": "-", "\u2212": "-"})


def fold_dashes(text: str) -> str:
    return text.translate(DASHES)


def contains(words: list[str], part: list[str]) -> bool:
    n = len(part)
    return any(words[i:i + n] == part for i in range(len(words) - n + 1))


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance, one numpy row at a time (insertions resolved by a running minimum)."""
    if not a or not b:
        return max(len(a), len(b))
    target = np.frombuffer(b.encode("utf-32-le"), dtype=np.uint32)
    offsets = np.arange(len(b) + 1)
    previous = offsets.copy()
    for i, char in enumerate(a.encode("utf-32-le").decode("utf-32-le"), start=1):
        current = np.empty_like(previous)
        current[0] = i
        current[1:] = np.minimum(previous[1:] + 1, previous[:-1] + (target != ord(char)))
        current = np.minimum.accumulate(current - offsets) + offsets
        previous = current
    return int(previous[-1])


def score_page(lines: list[str], case: Case) -> tuple[float, int, int, int, list[str]]:
    """CER, cells exact, cells exact with dashes folded, cells, and the misses (strict)."""
    ocr_text, true_text = "\n".join(lines), "\n".join(case.truth_lines)
    cer = edit_distance(ocr_text, true_text) / max(len(true_text), 1)
    exact = folded = total = 0
    misses = []
    for row in case.truth_cells:
        true_line = next((t for t in case.truth_lines if contains(t.split(), row[0].split())), " ".join(row))
        line = min(lines, key=lambda line: edit_distance(line, true_line), default="")
        total += len(row)
        for cell in row:
            if contains(line.split(), cell.split()):
                exact += 1
            else:
                misses.append(f"{cell!r} in {line!r}")
            folded += contains(fold_dashes(line).split(), fold_dashes(cell).split())
    return cer, exact, folded, total, misses


def page_lines(document: Document, page: int) -> list[str]:
    pages: list[Page] = document.pages
    return [normalise(line.text) for line in pages[page - 1].lines] if len(pages) >= page else []


def evaluate(engines: Iterable[str], cases: Iterable[Case], *, progress=None) -> list[Score]:
    engines = list(engines)
    scores = []
    for case in cases:
        for engine in engines:
            if case.degradation == TEXT_PDF and engine != engines[0]:
                continue  # the text layer is read without OCR: one engine-independent score
            started = time.perf_counter()
            document = read_document(case.data, engine=engine)
            seconds = time.perf_counter() - started
            cer, exact, folded, total, misses = score_page(page_lines(document, 1), case)
            page = document.pages[0]
            name = "pdfplumber" if case.degradation == TEXT_PDF else engine
            scores.append(Score(name, case.layout, case.seed, case.page, case.degradation, round(cer, 4), exact, total,
                                round(seconds, 3), folded, page.rotation, page.skew, misses))
            if progress:
                progress(scores[-1])
    return scores


def summary(scores: list[Score]) -> list[dict]:
    """One row per (degradation, engine): mean CER, share of cells exact, median seconds per page."""
    groups: dict[tuple[str, str], list[Score]] = {}
    for score in scores:
        groups.setdefault((score.degradation, score.engine), []).append(score)
    order = {name: i for i, name in enumerate([*DEGRADATIONS, TEXT_PDF])}
    rows = []
    for (degradation, engine), group in sorted(
        groups.items(), key=lambda item: (order.get(item[0][0], 99), item[0][1])
    ):
        total = sum(s.cells_total for s in group)
        rows.append({
            "degradation": degradation, "engine": engine, "pages": len(group),
            "cer": round(statistics.mean(s.cer for s in group), 4),
            "cells_exact": round(sum(s.cells_exact for s in group) / max(total, 1), 4), "cells": total,
            "cells_exact_folded": round(sum(s.cells_exact_folded for s in group) / max(total, 1), 4),
            "seconds_p50": round(statistics.median(s.seconds for s in group), 2),
        })
    return rows


def markdown(rows: list[dict]) -> str:
    lines = ["| degradation | engine | pages | CER | cells exact | dashes folded | s/page p50 |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['degradation']} | {r['engine']} | {r['pages']} | {r['cer']:.2%} | "
            f"{r['cells_exact']:.1%} ({r['cells']}) | {r['cells_exact_folded']:.1%} | {r['seconds_p50']:.2f} |"
        )
    return "\n".join(lines)


def as_json(scores: list[Score]) -> dict:
    return {"summary": summary(scores), "pages": [asdict(s) for s in scores]}


def scores_from_json(data: dict) -> list[Score]:
    """Scores written by `as_json`, e.g. to merge runs of one engine each (`ocr_eval --merge`)."""
    return [Score(**page) for page in data["pages"]]
