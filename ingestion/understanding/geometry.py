"""Page geometry: words -> visual rows -> cells, independent of which reader produced the words.

A text-layer page gives one `Word` per word; an OCR engine may give one box per phrase or per
line. Both become `Token`s; tokens on one baseline form a `VisualRow`; tokens separated by less
than a column gap form a `Cell`. All thresholds are relative to the text height on the page, so
they hold at any resolution.
"""
from __future__ import annotations

import re
import statistics
from collections import Counter
from dataclasses import dataclass, field

from ingestion.document import Box, Document, Page


@dataclass(frozen=True)
class Token:
    text: str
    x0: float
    y0: float
    x1: float
    y1: float
    confidence: float
    page: int

    @property
    def height(self) -> float:
        return self.y1 - self.y0

    @property
    def yc(self) -> float:
        return (self.y0 + self.y1) / 2


@dataclass
class Cell:
    tokens: list[Token]

    @property
    def text(self) -> str:
        return " ".join(t.text for t in self.tokens)

    @property
    def x0(self) -> float:
        return min(t.x0 for t in self.tokens)

    @property
    def x1(self) -> float:
        return max(t.x1 for t in self.tokens)

    @property
    def confidence(self) -> float:
        return min(t.confidence for t in self.tokens)

    @property
    def box(self) -> Box:
        return union(t for t in self.tokens)


@dataclass
class VisualRow:
    page: int
    tokens: list[Token] = field(default_factory=list)
    cells: list[Cell] = field(default_factory=list)
    effective: str | None = None  # the date of a cumulative report's column these words were read under

    @property
    def y0(self) -> float:
        return min(t.y0 for t in self.tokens)

    @property
    def y1(self) -> float:
        return max(t.y1 for t in self.tokens)

    @property
    def yc(self) -> float:
        return (self.y0 + self.y1) / 2

    @property
    def text(self) -> str:
        return " ".join(c.text for c in self.cells)

    @property
    def height(self) -> float:
        return statistics.median(t.height for t in self.tokens)


def union(tokens) -> Box:
    tokens = list(tokens)
    return (min(t.x0 for t in tokens), min(t.y0 for t in tokens), max(t.x1 for t in tokens), max(t.y1 for t in tokens))


def page_tokens(page: Page) -> list[Token]:
    """Word-level tokens; a line without usable word boxes is split at spaces in proportion to characters."""
    tokens: list[Token] = []
    for line in page.lines:
        words = [w for w in line.words if w.text.strip()]
        if words and len(words) >= len(line.text.split()) * 0.5:
            for w in words:
                for piece in _split_word(w.text, w.box, w.confidence):
                    tokens.append(Token(*piece, page.number))
            continue
        tokens.extend(Token(*piece, page.number) for piece in _split_word(line.text, line.box, line.confidence))
    return tokens


def _split_word(text: str, box: Box, confidence: float):
    """A box holding several space-separated words becomes one piece per word, placed by character share."""
    parts = text.split()
    if len(parts) <= 1:
        if parts:
            yield (parts[0], box[0], box[1], box[2], box[3], confidence)
        return
    x0, y0, x1, y1 = box
    per_char = (x1 - x0) / max(len(text), 1)
    pos = 0
    for part in parts:
        start = text.index(part, pos)
        pos = start + len(part)
        yield (part, x0 + start * per_char, y0, x0 + pos * per_char, y1, confidence)


def visual_rows(tokens: list[Token]) -> list[VisualRow]:
    """Group tokens sharing a baseline (vertical overlap), top to bottom, each row's tokens left to right."""
    rows: list[VisualRow] = []
    for tok in sorted(tokens, key=lambda t: (t.yc, t.x0)):
        if rows:
            row = rows[-1]
            h = min(row.height, tok.height)
            overlap = min(row.y1, tok.y1) - max(row.y0, tok.y0)
            if overlap > 0.5 * h and abs(tok.yc - _row_center(row)) < 0.6 * max(h, 1e-6):
                row.tokens.append(tok)
                continue
        rows.append(VisualRow(page=tok.page, tokens=[tok]))
    for row in rows:
        row.tokens.sort(key=lambda t: t.x0)
    rows.sort(key=lambda r: r.yc)
    return rows


def _row_center(row: VisualRow) -> float:
    return statistics.median(t.yc for t in row.tokens)


def split_cells(row: VisualRow, gap: float, base_height: float) -> list[Cell]:
    """Cells are runs of tokens closer than a column gap (wider than a word space, relative to text size)."""
    cells: list[Cell] = []
    for tok in row.tokens:
        if cells and tok.x0 - cells[-1].x1 < gap * max(
            1.0, tok.height / base_height, cells[-1].tokens[-1].height / base_height
        ):
            cells[-1].tokens.append(tok)
        else:
            cells.append(Cell([tok]))
    return cells


def text_height(tokens: list[Token]) -> float:
    return statistics.median(t.height for t in tokens) if tokens else 10.0


RULE = re.compile(r"[|¦│┃]+|[|+]?[-=_─━+|]{3,}[|+]?")  # `|`, `|------|`, `+====+`: a table drawn in characters
BAR_READINGS = {"|", "1", "l", "I", "!", "¦", "│"}  # what OCR makes of a `|`


def drop_rulings(tokens: list[Token]) -> list[Token]:
    """A table drawn with characters: its rules are no words. A `|` is one wherever it stands. OCR reads
    it as `1`, `l` or `I` (and drops some): such lone marks are rules only on a page with a ruled line
    (three or more of them on one line: the borders and the separators), where they stand one above the
    other on three lines or more with nothing else printed across that place between them. A column of
    real 1s on a page without ruled lines is left alone."""
    tokens = [t for t in tokens if not RULE.fullmatch(t.text)]
    if not tokens:
        return tokens
    h = text_height(tokens)
    bars = [t for t in tokens if t.text in BAR_READINGS]
    per_line = Counter(round(t.yc / h) for t in bars)
    if not per_line or max(per_line.values()) < 3:
        return tokens
    ruled: set[int] = set()
    for bar in bars:
        x = (bar.x0 + bar.x1) / 2
        track = [t for t in bars if abs((t.x0 + t.x1) / 2 - x) < 0.35 * h]
        top, bottom = min(t.yc for t in track), max(t.yc for t in track)
        crossing = [t for t in tokens if t.x0 < x < t.x1 and top <= t.yc <= bottom and t.text not in BAR_READINGS]
        if len({round(t.yc / h) for t in track}) >= 3 and not crossing:
            ruled.update(id(t) for t in track)
    return [t for t in tokens if id(t) not in ruled]


def document_rows(document: Document) -> list[VisualRow]:
    """All visual rows of the document, page by page, with cells split at column gaps."""
    rows: list[VisualRow] = []
    for page in document.pages:
        tokens = drop_rulings(page_tokens(page))
        if not tokens:
            continue
        height = text_height(tokens)
        for row in visual_rows(tokens):
            row.cells = split_cells(row, 0.85 * height, height)
            rows.append(row)
    return rows
