"""Words to lines: one grouping for every source (text layer, PaddleOCR regions, Tesseract words).

A line is every word on the same visual row, left to right, so a lab-table row stays one line; the
word boxes keep the column positions for later stages.
"""
from __future__ import annotations

from ingestion.document import Box, Line, Word


def split_region(text: str, box: Box, confidence: float) -> list[Word]:
    """Words of a detected text region, their boxes shared out by character count (no per-glyph positions)."""
    x0, y0, x1, y1 = box
    width_per_char = (x1 - x0) / max(len(text), 1)
    words, start = [], 0
    for token in text.split(" "):
        if token:
            words.append(Word(token, (round(x0 + start * width_per_char, 1), y0,
                                      round(x0 + (start + len(token)) * width_per_char, 1), y1), confidence))
        start += len(token) + 1
    return words


def group_lines(words: list[Word]) -> list[Line]:
    """Group words whose vertical extents overlap by half the smaller height; lines top to bottom."""
    rows: list[list[Word]] = []
    for word in sorted(words, key=lambda w: (w.box[1] + w.box[3]) / 2):
        row = rows[-1] if rows else None
        if row is not None and _same_row(row, word):
            row.append(word)
        else:
            rows.append([word])
    return [_line(sorted(row, key=lambda w: w.box[0])) for row in rows]


def _same_row(row: list[Word], word: Word) -> bool:
    top = sorted(w.box[1] for w in row)[len(row) // 2]  # medians resist one tall outlier
    bottom = sorted(w.box[3] for w in row)[len(row) // 2]
    overlap = min(bottom, word.box[3]) - max(top, word.box[1])
    return overlap >= 0.5 * min(bottom - top, word.box[3] - word.box[1])


def _line(words: list[Word]) -> Line:
    box = (min(w.box[0] for w in words), min(w.box[1] for w in words),
           max(w.box[2] for w in words), max(w.box[3] for w in words))
    chars = sum(len(w.text) for w in words) or 1
    confidence = sum(w.confidence * len(w.text) for w in words) / chars
    return Line(" ".join(w.text for w in words), box, round(confidence, 4), words)
