"""Tables that share a page's width: column groups side by side, and cumulative reports' dated columns.

Both are found from the column titles' geometry, and both are read by handing the ordinary table
reader (table.py) one plain table at a time:

- **column groups**: a title row whose column kinds repeat left to right (Test Result Units Range
  | Test Result Units Range) is two or three tables side by side. Each group's words, from its
  titles down to the first line that crosses the gutter between groups, become rows of their own,
  so a value never takes digits from the neighbouring group's cell nor a range from its row.
- **cumulative columns**: a title row with two or more dates where a result column would be
  (Test | 06/01/2025 | 15/05/2024 | 05/05/2024 | Units | Range) is read once per dated column,
  each time with that column titled as the result and the other dated columns left out; the rows
  carry their column's date (`VisualRow.effective`), which becomes `LabRow.effective`.
"""
from __future__ import annotations

import re

from ingestion.understanding.dates import parse_date
from ingestion.understanding.geometry import Token, VisualRow, split_cells, text_height
from ingestion.understanding.table import END_OF_TABLE, VALUE_KINDS, Column, find_header

GROUPED = ("name", "value", "unit", "range", "flag", "in_range", "out_of_range")


def separate_tables(rows: list[VisualRow], *, day_first: bool) -> list[VisualRow]:
    """The document's rows, with side-by-side tables and dated columns laid out one table after another."""
    out: list[VisualRow] = []
    for page in dict.fromkeys(r.page for r in rows):
        page_rows = [r for r in rows if r.page == page]
        out.extend(_separate_page(page_rows, day_first))
    return out


def _separate_page(rows: list[VisualRow], day_first: bool) -> list[VisualRow]:
    height = text_height([t for r in rows for t in r.tokens])
    for i in range(len(rows)):
        dated = _dated_columns(rows[i], day_first)
        if dated:
            return rows[:i] + _dated_copies(rows[i], rows[i + 1:], dated, height)
        header = find_header(rows, i)
        if header is None:
            continue
        groups = _groups(header[0])
        if len(groups) < 2:
            return rows
        title_rows = header[1]
        at = i + len(title_rows)
        bounds = [min(c.x0 for c in g) - 0.5 * height for g in groups[1:]]
        end = at
        while end < len(rows) and not _crosses(rows[end], bounds, height):
            end += 1
        region = title_rows + rows[at:end]
        return rows[:i] + [r for g in range(len(groups)) for r in _slice(region, bounds, g, height)] + rows[end:]
    return rows


def _groups(columns: list[Column]) -> list[list[Column]]:
    """Columns split where a kind comes again: each group one table's columns, each with a result column."""
    groups: list[list[Column]] = [[]]
    for col in sorted(columns, key=lambda c: c.x0):
        kinds = {c.kind for c in groups[-1]}
        if col.kind in GROUPED and col.kind in kinds:
            groups.append([])
        groups[-1].append(col)
    if len(groups) > 1 and all(any(c.kind in VALUE_KINDS for c in g) and len(g) >= 2 for g in groups):
        return groups
    return [columns]


def _crosses(row: VisualRow, bounds: list[float], height: float) -> bool:
    """A line printed across a gutter ("*** End of Report ***", a footnote): the groups end above it."""
    return any(t.x0 < b - 0.3 * height and t.x1 > b + 0.3 * height for t in row.tokens for b in bounds)


def _slice(region: list[VisualRow], bounds: list[float], group: int, height: float) -> list[VisualRow]:
    lo = bounds[group - 1] if group else float("-inf")
    hi = bounds[group] if group < len(bounds) else float("inf")
    return [_row([t for t in r.tokens if lo <= t.x0 < hi], r, height) for r in region
            if any(lo <= t.x0 < hi for t in r.tokens)]


def _row(tokens: list[Token], like: VisualRow, height: float, effective: str | None = None) -> VisualRow:
    row = VisualRow(page=like.page, tokens=sorted(tokens, key=lambda t: t.x0), effective=effective)
    row.cells = split_cells(row, 0.85 * height, height)
    return row


# ---- cumulative reports --------------------------------------------------------------------

def _dated_columns(row: VisualRow, day_first: bool) -> list[tuple[float, float, str]] | None:
    """(x0, x1, ISO date) of each title that is a date alone ("06/01/2025", "06 Jan 2025"), when there
    are two or more of them beside the titles of a results table (a test column, and a unit or range
    column). Word by word: a reader may box the whole title line as one."""
    tokens = row.tokens
    dated, others, i = [], [], 0
    while i < len(tokens):
        for n in (3, 2, 1):
            words = tokens[i:i + n]
            text = " ".join(t.text for t in words)
            if len(words) == n and len(text) <= 12 and sum(ch.isalpha() for ch in text) <= 4 and \
                    re.search(r"\d{2,4}\D*$", text) and parse_date(text, day_first=day_first, with_time=False):
                dated.append((words[0].x0, words[-1].x1, parse_date(text, day_first=day_first, with_time=False)))
                i += n
                break
        else:
            others.append(tokens[i])
            i += 1
    if len(dated) < 2 or not others:
        return None
    words = " ".join(t.text for t in others).lower()
    if not any(w in words for w in ("test", "analyte", "investigation", "parameter", "examination")) or \
            not any(w in words for w in ("unit", "range", "reference", "interval", "normal")):
        return None
    return dated


def _dated_copies(title: VisualRow, body: list[VisualRow], dated, height: float) -> list[VisualRow]:
    """The table once per dated column: its title reads 'Result', the other dated columns are left out."""
    inside = [t for t in title.tokens if any(x0 - 1 <= t.x0 <= x1 for x0, x1, _ in dated)]
    starts = sorted([x0 for x0, _, _ in dated] + [t.x0 for t in title.tokens if t not in inside])
    spans = []
    for x0, x1, iso in dated:
        after = [s for s in starts if s > x0 + 1]
        spans.append((x0 - 0.5 * height, (after[0] if after else float("inf")) - 0.5 * height, iso, x0, x1))
    end = next((k for k, r in enumerate(body) if END_OF_TABLE.search(r.text)), len(body))
    out: list[VisualRow] = []
    for lo, hi, iso, x0, x1 in spans:
        others = [(a, b) for a, b, other, *_ in spans if other != iso]
        result = Token("Result", x0, title.y0, x1, title.y1, 1.0, title.page)
        out.append(_row([t for t in title.tokens if not any(a <= t.x0 < b for a, b, *_ in spans)] + [result],
                        title, height))
        for r in body[:end]:
            tokens = [t for t in r.tokens if not any(a <= t.x0 < b for a, b in others)]
            if tokens:
                out.append(_row(tokens, r, height, effective=iso))
    return out + body[end:]


__all__ = ["separate_tables"]
