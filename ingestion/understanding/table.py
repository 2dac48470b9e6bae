"""Finding results tables and their rows from word geometry, whatever the column order.

A header row (Test / Result / Units / Reference Range / Flag in any wording and order) gives the
columns; each cell below is put in the column whose title it sits under. A page without a header
reuses the previous page's columns (repeated tables) or, failing that, types cells by content.
Lines without a value become panel headings, comments under the test above, or the continuation
of a wrapped range.
"""
from __future__ import annotations

import re
import statistics
from dataclasses import dataclass, field

from ingestion.understanding.geometry import Cell, Token, VisualRow
from ingestion.understanding.header import match_label
from ingestion.understanding.values import (
    PREFIX_FLAG,
    NumberStyle,
    Value,
    looks_like_range,
    parse_flag,
    parse_value,
    split_unit,
)
from ingestion.understanding.wrapping import NameLine

ColumnKind = str  # "name" | "value" | "unit" | "range" | "range_low" | "range_high" | "flag" | "in_range" | ...
VALUE_KINDS = ("value", "in_range", "out_of_range")
RANGE_LIMITS = ("range_low", "range_high")  # a range printed as two columns

HEADER_WORDS: dict[str, ColumnKind] = {}
for _kind, _phrases in {
    "name": ("test", "tests", "test name", "test description", "analyte", "analytes", "investigation", "investigations",
             "parameter", "parameters", "examination", "description", "component", "determination", "assay", "name",
             "procedure", "exam", "test performed", "lab test", "test(s)", "analysis"),
    "value": ("result", "results", "value", "your value", "observed value", "result value", "finding", "findings",
              "reading", "measured value", "patient value", "current result", "observation", "patient result"),
    "unit": ("units", "unit", "uom", "unit of measure", "units of measure", "measure unit"),
    "range": ("reference range", "reference interval", "ref range", "ref interval", "reference", "normal range",
              "normal values", "normal value", "biological reference interval", "biological reference range",
              "bio ref interval", "bio ref range", "biological ref interval", "reference values", "reference value",
              "expected values", "expected range", "standard range", "range", "limits", "reference limits",
              "normal limits", "ref", "normal", "ref values", "interval", "target range", "reference intervals",
              "ref ranges", "reference ranges", "normal ranges"),
    "flag": ("flag", "flags", "status", "abn", "abnormal flag", "h/l", "ind", "indicator", "alert", "abnormal",
             "abn flag", "result flag"),
    # columns whose cells are not part of the result (cumulative reports, performing site, codes)
    "other": ("previous result", "previous", "prior result", "prior", "last result", "previous value", "date",
              "date/time", "comments", "comment", "method", "lab", "site", "performing lab", "performing site",
              "loinc", "code", "test code", "collected", "specimen", "sample", "result status", "report status",
              "previous result and date", "prior result and date", "lab site", "performing location"),
    "in_range": ("in range", "within range", "within limits", "in-range", "normal result"),
    # the reference range printed as two columns, its lower and its upper limit
    "range_low": ("low", "lower limit", "low limit", "ref low", "reference low", "normal low", "lower", "min",
                  "minimum", "lower ref", "lower reference", "ll", "lower normal"),
    "range_high": ("high", "upper limit", "high limit", "ref high", "reference high", "normal high", "upper", "max",
                   "maximum", "upper ref", "upper reference", "ul", "upper normal"),
    # German-speaking laboratories
    "name_de": ("untersuchung", "analyse", "bezeichnung", "kenngröße", "analyt"),
    "value_de": ("ergebnis", "messwert", "resultat", "wert", "befund"),
    "unit_de": ("einheit", "einh", "maßeinheit"),
    "range_low_de": ("untergrenze", "unterer grenzwert"),
    "range_high_de": ("obergrenze", "oberer grenzwert"),
    "range_de": ("referenzbereich", "referenzwert", "referenzwerte", "normbereich", "normalbereich", "normwert",
                 "normwerte", "ref-bereich", "referenzintervall"),
    "other_de": ("vorwert", "vorbefund", "methode", "kommentar"),
    "out_of_range": ("out of range", "outside range", "out of limits", "outside limits", "out-of-range",
                     "abnormal result"),
}.items():
    for _p in _phrases:
        HEADER_WORDS[_p] = _kind.removesuffix("_de")
MAX_PHRASE = max(len(p.split()) for p in HEADER_WORDS)
END_OF_TABLE = re.compile(r"end of (the )?report|end of results|\*{3}|verified by|authori[sz]ed by|signed by|"
                          r"page \d+ (of|/) \d+|continued on next page", re.I)
COMMENT_START = re.compile(r"^(\*|†|#|\(|method|comment|note|remark|interpretation|performed|please|calculated|"
                           r"reference:|source|specimen|result(s)? (verified|confirmed)|tested|analy[sz]ed|"
                           r"values? (above|below)|reported|fasting|non-fasting)", re.I)


@dataclass
class Column:
    kind: ColumnKind
    x0: float
    x1: float
    phrase: str = ""


@dataclass
class RawRow:
    """One result line as cells per column kind, before any interpretation."""
    page: int
    cells: dict[ColumnKind, list[Cell]] = field(default_factory=dict)
    panel: str | None = None
    comments: list[str] = field(default_factory=list)
    extra_range: list[Cell] = field(default_factory=list)  # wrapped continuation of the range cell
    effective: str | None = None  # ISO date of the cumulative report's column the value was read under

    def text(self, kind: ColumnKind) -> str:
        return " ".join(c.text for c in self.cells.get(kind, []))

    @property
    def tokens(self) -> list[Token]:
        return [t for cells in self.cells.values() for c in cells for t in c.tokens] + \
            [t for c in self.extra_range for t in c.tokens]


def _key(text: str) -> str:
    return re.sub(r"[.:]+$", "", text.lower().strip()).replace(".", "")


def _header_match(row: VisualRow) -> tuple[list[Column], int] | None:
    """(columns, how many words are column titles) for a header row, or None."""
    toks = row.tokens
    columns: list[Column] = []
    matched = whole = 0
    for cell in row.cells:  # a title never spans two cells: "Result  Flag" are two columns
        ct, i, found, used = cell.tokens, 0, 0, 0
        while i < len(ct):
            for n in range(min(MAX_PHRASE, len(ct) - i), 0, -1):
                phrase = " ".join(_key(t.text) for t in ct[i:i + n])
                if phrase in HEADER_WORDS:
                    words = ct[i:i + n]  # a two-line title's words are stacked: take the extent of all
                    columns.append(Column(HEADER_WORDS[phrase], min(t.x0 for t in words), max(t.x1 for t in words),
                                          phrase))
                    found, used, i = found + 1, used + n, i + n
                    break
            else:
                i += 1
        matched += used
        whole += found == 1 and used == len(ct)  # the cell is exactly one column title
    kinds = [c.kind for c in columns]
    if len(columns) < 2 or matched < 0.7 * len(toks) or len(set(kinds)) < 2 or whole < 2:
        return None  # "Test Results" as a title, "Central Reference Laboratory": not table headers
    if not any(k in VALUE_KINDS for k in kinds):
        # "Normal" / "Abnormal" as the two value columns of some layouts
        for c in columns:
            if c.phrase in ("abnormal", "abn"):
                c.kind = "out_of_range"
            elif c.phrase == "normal":
                c.kind = "in_range"
        kinds = [c.kind for c in columns]
    if not any(k in VALUE_KINDS for k in kinds) or "name" not in kinds and len(columns) < 3:
        return None
    if kinds.count("flag") > 1:  # "Flag" and "Status" side by side: the status is the report's (Final)
        for c in columns:
            if c.phrase == "status":
                c.kind = "other"
    return columns, matched


def find_header(rows: list[VisualRow], i: int) -> tuple[list[Column], list[VisualRow]] | None:
    """The table header starting at rows[i]: one row of titles, or titles printed over two lines
    ("Reference" above "Interval", "Units of" above "Measure"), merged column by column."""
    row = rows[i]
    single = _header_match(row)
    below = rows[i + 1] if i + 1 < len(rows) else None
    if below is not None and _title_lines(row, below):
        merged = _header_match(stack_rows(row, below))
        if merged and (single is None or merged[1] > single[1] + 1):
            return merged[0], [row, below]
    return (single[0], [row]) if single else None


def _title_lines(upper: VisualRow, lower: VisualRow) -> bool:
    """Two lines of one header: on the same page, set tight (closer than a line of text), no numbers."""
    h = min(upper.height, lower.height)
    # (OCR boxes carry padding: two tight lines' boxes may touch or overlap a little)
    return upper.page == lower.page and -0.4 * h <= lower.y0 - upper.y1 < 0.9 * h and \
        not any(re.search(r"\d", t.text) for t in upper.tokens + lower.tokens)


def stack_rows(upper: VisualRow, lower: VisualRow) -> VisualRow:
    """One row whose cells are the lower line's, each with the words printed above it put first.
    Word by word: two titles set close on the upper line ("Abnormal  Result") may read as one cell."""
    cells = [Cell(list(c.tokens)) for c in lower.cells]
    above: dict[int, list[Token]] = {}
    alone: list[Cell] = []
    for tok in upper.tokens:
        overlaps = [(min(tok.x1, c.x1) - max(tok.x0, c.x0), i) for i, c in enumerate(cells)]
        best = max(overlaps, default=(0, -1))
        if best[0] > 0:
            above.setdefault(best[1], []).append(tok)
        elif alone and tok.x0 - alone[-1].x1 < 2 * tok.height:
            alone[-1].tokens.append(tok)
        else:
            alone.append(Cell([tok]))
    for i, toks in above.items():
        cells[i].tokens[:0] = toks
    cells = sorted(cells + alone, key=lambda c: c.x0)
    return VisualRow(page=lower.page, tokens=[t for c in cells for t in c.tokens], cells=cells)


def right_edges(rows: list[VisualRow], columns: list[Column]) -> list[tuple[float, Column]]:
    """Right-aligned columns: right edges shared by at least three cells that sit under no title,
    each with the column whose title starts before that edge and whose next title starts after it
    (right-aligned numbers start right of their title and end near the next column), kept only when
    the cells read as that column's content (numbers under Result, ranges under Reference...)."""
    h = statistics.median(r.height for r in rows) if rows else 10.0
    loose = sorted((c.x1, c.text, c.x0) for r in rows for c in r.cells
                   if not any(min(c.x1, col.x1) - max(c.x0, col.x0) > 0 for col in columns))
    tracks: list[list[tuple[float, str, float]]] = []
    for edge in loose:
        if tracks and edge[0] - tracks[-1][-1][0] < 0.3 * h:
            tracks[-1].append(edge)
        else:
            tracks.append([edge])
    ordered = sorted(columns, key=lambda c: c.x0)
    found = []
    # cells of one width cannot say whether they are aligned left or right: the nearest title decides
    for track in (t for t in tracks if len(t) >= 3 and max(x0 for *_, x0 in t) - min(x0 for *_, x0 in t) > 0.3 * h):
        edge = sum(x for x, *_ in track) / len(track)
        col = next((c for c, n in zip(ordered, ordered[1:] + [None]) if c.x0 <= edge and (n is None or edge < n.x0)),
                   None)
        if col is not None and sum(_fits(text, col.kind) for _, text, _ in track) > len(track) / 2:
            found.append((edge, col))
    return found


def _fits(text: str, kind: ColumnKind) -> bool:
    if kind in VALUE_KINDS:
        value = parse_value(text, NumberStyle(), qualitative_any=True)
        return value is not None and not looks_like_range(text)
    if kind == "range":
        return looks_like_range(text)
    if kind in RANGE_LIMITS:
        return parse_value(text, NumberStyle()) is not None
    if kind == "flag":
        return parse_flag(text) is not None
    return kind == "unit" and not re.fullmatch(r"[<>=\d.,\s-]+", text)


def _column_by_right_edge(cell: Cell, edges: list[tuple[float, Column]]) -> Column | None:
    h = max(t.height for t in cell.tokens)
    return next((col for edge, col in edges if abs(cell.x1 - edge) < 0.6 * h), None)


def assign_cells(row: VisualRow, columns: list[Column], edges: list[tuple[float, Column]] = (), unit_of=None
                 ) -> dict[ColumnKind, list[Cell]]:
    """Put each cell under the column title it overlaps (a cell spanning two titles is split by words);
    a cell under no title goes by its right edge when it is one of a right-aligned column's, else to
    the nearest title."""
    out: dict[ColumnKind, list[Cell]] = {}
    for cell in row.cells:
        hits = [c for c in columns if min(cell.x1, c.x1) - max(cell.x0, c.x0) > 0]
        if len(hits) > 1:
            names_first = hits[0].kind == "name"
            tail = (
                (_result_at_end(cell.tokens, columns) or _column_words_at_end(cell.tokens, hits, unit_of))
                if names_first
                else 0
            )
            for tok in cell.tokens[:len(cell.tokens) - tail]:
                # a long test name running under the next title stays a name; other words go where they sit
                kind = "name" if names_first and not re.search(r"\d", tok.text) and out.keys() <= {"name"} \
                    else _column_for(Cell([tok]), columns).kind
                _add(out, kind, Cell([tok]))
            if tail:
                rest = Cell(cell.tokens[-tail:])
                _add(out, _column_for(rest, columns).kind, rest)
            continue
        if not hits and parse_flag(cell.text) and not any(c.kind == "flag" for c in columns):
            _add(out, "flag", cell)  # an untitled flag column (arrows between value and unit)
            continue
        col = hits[0] if hits else (_column_by_right_edge(cell, edges) or _column_for(cell, columns))
        _add(out, col.kind, cell)
    return out


def _result_at_end(tokens: list[Token], columns: list[Column]) -> int:
    """How many last words of a cell spanning the name and result columns are a qualitative result
    standing under the result column ("Hepatitis B Surface Antigen  Negative" read as one box)."""
    starts = [c.x0 for c in columns if c.kind in VALUE_KINDS]
    if not starts:
        return 0
    for n in (3, 2, 1):
        if len(tokens) <= n:
            continue
        tail = tokens[-n:]
        value = parse_value(" ".join(t.text for t in tail), NumberStyle())
        if value is not None and value.text and tail[0].x0 >= min(starts) - 1.5 * tail[0].height:
            return n
    return 0


def _column_words_at_end(tokens: list[Token], hits: list[Column], unit_of) -> int:
    """How many last words of a long name run into the next column are that column's content: a unit
    or a flag starting where the column's title starts ("Prostate Specific Antigen (PSA), Total ng/ml",
    "Carbon Dioxide, Total (Bicarbonate) H")."""
    for column in hits:
        if column.kind == "unit" and unit_of is not None:
            reads = unit_of
        elif column.kind == "flag":
            reads = parse_flag
        else:
            continue
        for n in (2, 1):
            if len(tokens) <= n:
                continue
            tail = tokens[-n:]
            if abs(tail[0].x0 - column.x0) <= 0.5 * tail[0].height and reads(" ".join(t.text for t in tail)):
                return n
    return 0


def is_running_text(row: VisualRow, columns: list[Column]) -> bool:
    """A line of prose across the table (heading, comment, footer) rather than a row of cells."""
    for cell in row.cells:
        hits = {c.kind for c in columns if min(cell.x1, c.x1) - max(cell.x0, c.x0) > 0}
        if len(hits) >= 2 and len(row.cells) <= 2 and not _result_at_end(cell.tokens, columns):
            return True
    return False


def _add(out: dict, kind: ColumnKind, cell: Cell) -> None:
    cells = out.setdefault(kind, [])
    if cells and cell.x0 - cells[-1].x1 < 2 * max(t.height for t in cell.tokens):
        cells[-1] = Cell(cells[-1].tokens + cell.tokens)
    else:
        cells.append(cell)


def _column_for(cell: Cell, columns: list[Column]) -> Column:
    if parse_flag(cell.text):
        flags = [c for c in columns if c.kind == "flag"]
        if flags:
            return min(flags, key=lambda c: _distance(cell, c))
    return min(columns, key=lambda c: (_overlap_rank(cell, c), _distance(cell, c)))


def _overlap_rank(cell: Cell, col: Column) -> float:
    return -(min(cell.x1, col.x1) - max(cell.x0, col.x0))


def _distance(cell: Cell, col: Column) -> float:
    if cell.x1 < col.x0:
        return col.x0 - cell.x1
    if cell.x0 > col.x1:
        return cell.x0 - col.x1
    return 0.0


def read_result(text: str, style: NumberStyle, unit_of) -> tuple[Value, str | None] | None:
    """A cell read as a result on its own: the value, with the unit when the cell prints one too
    ("74 mg/dL", "6,0 x10^9/L H"); None when the cell is no result."""
    value = parse_value(text, style)
    if value is not None and (value.number is not None or value.text):
        return value, None
    return split_unit(text, style, unit_of) if unit_of is not None else None


def type_cells(row: VisualRow, style: NumberStyle, unit_of) -> dict[ColumnKind, list[Cell]] | None:
    """Without a header: name first, then the first result-like cell, the rest typed by content."""
    cells = row.cells
    for i, cell in enumerate(cells[1:], 1):
        result = read_result(cell.text, style, unit_of)
        if result is None:
            continue
        value, unit_inside = result
        name = cells[:i]
        if not re.search(r"[A-Za-z]", " ".join(c.text for c in name)) or name[-1].text.rstrip().endswith(":"):
            return None
        out: dict[ColumnKind, list[Cell]] = {"name": name, "value": [cell]}
        for rest in cells[i + 1:]:
            kind = "flag" if parse_flag(rest.text) else "range" if looks_like_range(rest.text) else \
                "unit" if unit_of(rest.text) and not re.fullmatch(r"[\d.,]+", rest.text) else \
                "range" if "range" not in out else None
            if kind is None:
                return None
            _add(out, kind, rest)
        if value.text is None and not ({"unit", "range", "flag"} & out.keys() or value.flag or unit_inside):
            return None  # a bare "label number" line is not a result
        return out
    return None


def cell_type(text: str, style: NumberStyle, unit_of) -> str:
    """What a cell looks like on its own: 'range', 'flag', 'unit', 'value' or 'text'."""
    if looks_like_range(text):
        return "range"
    if parse_flag(text):
        return "flag"
    if read_result(text, style, unit_of):  # "5.4", "Negative", "74 mg/dL"
        return "value"
    if unit_of(text) and not re.fullmatch(r"[\d.,\s]+", text):
        return "unit"
    return "text"


def infer_columns(rows: list[VisualRow], style: NumberStyle, unit_of) -> tuple[list[Column], int] | None:
    """Columns of a table printed without titles: cells stacked at the same x across result-like rows,
    each column named by what most of its cells look like. Returns the columns and the first row's index."""
    typed = []
    fields = [_is_fields_row(row) for row in rows]  # "MRN  9535801  Order Number  25-681511" is no result
    for i, row in enumerate(rows):
        if fields[i] or i and fields[i - 1]:
            continue  # nor are the values under a line of field labels ("NAME  DATE OF BIRTH  GENDER": "F" is no unit)
        kinds = [cell_type(c.text, style, unit_of) for c in row.cells]
        unit_inside = any(k == "value" and (read_result(c.text, style, unit_of) or (None, None))[1]
                          for c, k in zip(row.cells, kinds))
        if len(row.cells) >= 3 and kinds[0] == "text" and "value" in kinds[1:] and \
                ({"range", "unit"} & set(kinds) or unit_inside) and \
                re.search(r"[A-Za-z]", row.cells[0].text) and not row.cells[0].text.rstrip().endswith(":"):
            typed.append((i, row, kinds))
    if len(typed) < 3:
        return None
    clusters: list[list] = []  # [x0, x1, {kind: votes}]
    for _, row, kinds in typed:
        for cell, kind in zip(row.cells[1:], kinds[1:]):
            hit = next((c for c in clusters if min(c[1], cell.x1) - max(c[0], cell.x0) > 0), None)
            if hit is None:
                clusters.append([cell.x0, cell.x1, {kind: 1}])
            else:
                hit[0], hit[1] = min(hit[0], cell.x0), max(hit[1], cell.x1)
                hit[2][kind] = hit[2].get(kind, 0) + 1
    clusters = _merge_overlapping(sorted(clusters, key=lambda c: c[0]))
    # the names make the first column, up to where the next one starts: a long name run into the cell beside
    # it ("Gamma-Glutamyl Transferase (GGT) 8-61") must not widen it over that column
    names = [row.cells[0] for _, row, _ in typed]
    x0 = min(c.x0 for c in names)
    columns = [Column("name", x0, max(x0 + 1, min([max(c.x1 for c in names)] + [c[0] - 1 for c in clusters])))]
    for x0, x1, votes in clusters:
        kind = max(votes, key=votes.get)
        if kind == "value" and votes.get("range") and any(c.kind == "value" for c in columns):
            kind = "range"  # a second result-like column holding ranges: "Negative", "1.005-1.030"
        if kind == "text":  # words beside the name continue it; after the result they are no part of it ("Final")
            kind = "other" if any(c.kind in VALUE_KINDS for c in columns) else "name"
        columns.append(Column(kind, x0, x1))
    if not any(c.kind == "value" for c in columns):
        return None
    return columns, typed[0][0]


def _merge_overlapping(clusters: list[list]) -> list[list]:
    merged: list[list] = []
    for c in clusters:
        if merged and c[0] < merged[-1][1]:
            last = merged[-1]
            last[1] = max(last[1], c[1])
            for k, v in c[2].items():
                last[2][k] = last[2].get(k, 0) + v
        else:
            merged.append(c)
    return merged


@dataclass
class TableRead:
    rows: list[RawRow]
    used: set[int]  # ids of visual rows that belong to tables (not header fields)


def read_tables(rows: list[VisualRow], style: NumberStyle, unit_of, known_name=None) -> TableRead:
    """Result rows of every table in the document. `known_name(text) -> bool` (the terminology) is
    evidence, with geometry, that two lines are one wrapped test name."""
    results: list[RawRow] = []
    used: set[int] = set()
    columns: list[Column] | None = None
    panel: str | None = None
    pages = sorted({r.page for r in rows})
    for page in pages:
        page_rows = [r for r in rows if r.page == page]
        header = next(((i, h) for i in range(len(page_rows)) if (h := find_header(page_rows, i))), None)
        if header is not None:
            at, (columns, title_rows) = header
            used.update(id(r) for r in title_rows)
            body = page_rows[at + len(title_rows):]
        else:
            body = page_rows
            inferred = None if columns else infer_columns(page_rows, style, unit_of)
            if inferred:
                columns, first = inferred
                body = page_rows[first:]
        pitch = _pitch(body)
        row_pitch = _row_pitch(body, pitch)
        edges = right_edges(body, columns) if columns else []
        strict = header is None  # no titles on this page: a result must also look like one
        last: RawRow | None = None
        last_row: VisualRow | None = None  # the last visual row given to `last`
        last_y = None
        started = header is not None
        prefix: NameLine | None = None  # a name-only line that may be the first line of the next result's name
        heading: NameLine | None = None  # the last line taken for a heading
        skip = 0

        def cells_of(row: VisualRow):
            if columns and is_running_text(row, columns):
                return {"name": row.cells}
            return assign_cells(row, columns, edges, unit_of) if columns else type_cells(row, style, unit_of)

        for k, row in enumerate(body):
            if skip:
                skip -= 1
                continue
            if END_OF_TABLE.search(row.text):
                if started:
                    break
                continue
            if started and _is_fields_row(row):  # the patient and report fields printed under the table
                break
            again = find_header(body, k)
            if again:  # a second table (or a repeated header) on the same page
                columns, last, started, prefix = again[0], None, True, None
                edges = right_edges(body[k + len(again[1]):], columns)
                used.update(id(r) for r in again[1])
                skip = len(again[1]) - 1
                continue
            if started and last_y is not None and row.y0 - last_y > 5 * pitch:
                break
            cells = cells_of(row)
            if not cells:
                continue
            kind = _classify(cells, style, strict=strict, unit_of=unit_of)
            near = last is not None and last_y is not None and row.y0 - last_y < 1.6 * pitch
            if kind == "unnamed" and prefix is not None and prefix.next_row is row:
                kind = "result"
            if kind == "result":
                last = RawRow(page=page, cells=cells, panel=panel, effective=row.effective)
                if prefix is not None and prefix.next_row is row:
                    last.cells["name"] = [Cell(list(r.tokens)) for r in prefix.rows] + cells.get("name", [])
                    last.panel = panel = prefix.panel_before  # it was a name, not a heading
                results.append(last)
                used.add(id(row))
                last_y, last_row, started, prefix = row.y1, row, True, None
            elif kind == "range-continuation" and near:
                last.extra_range.extend(cells["range"])
                used.add(id(row))
                last_y = row.y1
            elif kind == "text" and started:
                text = " ".join(c.text for cs in cells.values() for c in cs)
                after = body[k + 1] if k + 1 < len(body) else None
                after_cells = cells_of(after) if after is not None else None
                if not after_cells or \
                        _classify(after_cells, style, strict=strict, unit_of=unit_of) not in ("result", "unnamed"):
                    after_cells = None
                line = NameLine(row, text, panel)
                lead = heading.text if heading is not None and heading.extends_to(row, k, row_pitch) else ""
                role = line.role(last.cells if near else None, last_row, after_cells, after, row_pitch, known_name,
                                 lead)
                if role == "continuation":
                    last.cells["name"] = last.cells.get("name", []) + [Cell(list(row.tokens))]
                    last_y, last_row = row.y1, row
                elif near and _is_comment(text, cells, row, results):
                    last.comments.append(text)
                    last_y = row.y1
                elif _is_heading(text) or role == "prefix":
                    if role == "prefix" and heading is not None and heading.extends_to(row, k, row_pitch):
                        line.rows, line.panel_before = heading.rows + line.rows, heading.panel_before  # 3+ lines
                    panel, last, prefix = text, None, line if role == "prefix" else None
                    heading = line
                    line.next_row, line.index = after, k
                    last_y = row.y1
                used.add(id(row))
    return TableRead(results, used)


def _row_pitch(rows: list[VisualRow], pitch: float) -> float:
    """The distance between two single-line result rows: between rows of several cells, low in their
    spread (a row under a wrapped name sits further down), not the median line gap, which the lines
    of wrapped names pull down when many names wrap."""
    tabular = [r for r in rows if len(r.cells) >= 2]
    gaps = sorted(b.yc - a.yc for a, b in zip(tabular, tabular[1:]) if b.yc > a.yc and b.page == a.page)
    return max(pitch, gaps[len(gaps) * 3 // 10]) if len(gaps) >= 3 else pitch


def _pitch(rows: list[VisualRow]) -> float:
    gaps = sorted(b.yc - a.yc for a, b in zip(rows, rows[1:]) if b.yc > a.yc)
    heights = sorted(r.height for r in rows) or [10.0]
    return gaps[len(gaps) // 2] if gaps else 2 * heights[len(heights) // 2]


def _classify(cells: dict[ColumnKind, list[Cell]], style: NumberStyle, *, strict: bool = False, unit_of=None) -> str:
    name = " ".join(c.text for c in cells.get("name", []))
    values = [c for k in VALUE_KINDS for c in cells.get(k, [])]
    if name and re.search(r"[A-Za-z]", name) and _is_label(name):
        return "noise"  # "Patient: DOE, JANE (continued)" repeated on later pages
    if strict and name and values:
        read = [read_result(c.text, style, unit_of) for c in values]  # "74 mg/dL": its unit is in the cell
        parsed = [r[0] if r else parse_value(c.text, style) for r, c in zip(read, values)]
        qualitative = any(v is not None and v.text for v in parsed)
        numeric = any(v is not None and v.number is not None for v in parsed)
        others = any(kind == "range" and looks_like_range(c.text) or kind == "flag" and parse_flag(c.text)
                     or kind == "unit" and not re.search(r"\d{3}", c.text)
                     for kind in ("unit", "range", "flag") for c in cells.get(kind, [])) \
            or any(v is not None and v.flag for v in parsed) or any(r is not None and r[1] for r in read)
        return "result" if qualitative or (numeric and others) else "noise"
    if name and re.search(r"[A-Za-z]", name):
        if values and any(parse_value(c.text, style, qualitative_any=True) or re.match(r"[<>≤≥]?\s*\d", c.text)
                          or PREFIX_FLAG.match(c.text) for c in values):  # "↑ 14.2 g/dL", "* 5.4 mmol/L"
            return "result"
        if not values and (cells.get("unit") or cells.get("range")) and len(cells) >= 2:
            return "result"  # a test whose value could not be read at all: kept, marked absent
        return "text"
    if set(cells) == {"range"} and re.search(r"\d|negative|positive|detected|reactive|normal", name + " ".join(
            c.text for c in cells["range"]), re.I):
        return "range-continuation"
    if values and any(parse_value(c.text, style, qualitative_any=True) for c in values):
        return "unnamed"  # values under a name printed on the lines above ("2021)", or nothing): a result only then
    if values or cells.get("unit"):
        return "noise"
    return "text"


def _is_fields_row(row: VisualRow) -> bool:
    """A line of header fields ("PATIENT  BIRTH DATE  SEX", "Patient Name  DOE, JANE  Collected  ..."):
    two or more cells that are each a field label alone, or a label with a colon and its value."""
    labels = 0
    for cell in row.cells:
        hit = match_label(cell.text)
        labels += hit is not None and (not hit[1] or ":" in cell.text)
    return labels >= 2


def _is_label(text: str) -> bool:
    hit = match_label(text)
    return hit is not None and ":" in text


def _is_comment(text: str, cells, row: VisualRow, results: list[RawRow]) -> bool:
    if COMMENT_START.match(text) or len(text.split()) >= 7:
        return True
    name_x = sorted(c.x0 for r in results[-8:] for c in r.cells.get("name", []))
    return bool(name_x) and row.tokens[0].x0 - name_x[len(name_x) // 2] > 0.8 * row.height


def _is_heading(text: str) -> bool:
    words = text.split()
    return 1 <= len(words) <= 8 and bool(re.search(r"[A-Za-z]{3}", text)) and not re.search(r"\d{3}", text)


NUMBER = re.compile(r"^[<>≤≥=]{0,2}\d+(?:[.,]\d+)?$")


def doubtful_value(raw: RawRow, value_kind: str | None) -> list[str]:
    """Why a row's value cell cannot be trusted to be one number: two cells under the result column,
    or two numbers in it ("330 277 314": values of neighbouring columns run together). The row is then
    one for a person to check, never a value made of digits from two cells."""
    if value_kind is None:
        return []
    cells = raw.cells.get(value_kind, [])
    numbers = [t.text for c in cells for t in c.tokens if NUMBER.match(t.text)]
    if len(numbers) >= 2:
        return [f"the result cell holds more than one number ({' '.join(numbers)}): which is the result is unsure"]
    if len(cells) >= 2:
        return [f"the result was read from {len(cells)} separate cells ({' | '.join(c.text for c in cells)})"]
    return _off_the_line(raw, cells)


def _off_the_line(raw: RawRow, value_cells: list[Cell]) -> list[str]:
    """A result or unit read on its test name's line but set clearly above or below it (a curved or
    tilted photo): it may be the neighbouring row's. Both the middle and the bottom must be off by more
    than 0.3 of the text height, so a name set smaller on the same baseline is not taken for one; a
    value on a line of its own under the name (blocks) is no such case."""
    names = raw.cells.get("name", [])
    if not names or not value_cells:
        return []
    numbers = [t for c in value_cells for t in c.tokens if re.search(r"\d", t.text)]
    units = [t for c in raw.cells.get("unit", []) for t in c.tokens]
    for kind, tokens in (("result", numbers), ("unit", units)):
        for tok in tokens:  # word by word: a cell's box is as tall as its tallest word
            y0, y1 = tok.y0, tok.y1
            on_line = [n for n in names if min(y1, n.box[3]) - max(y0, n.box[1]) > 0]
            if not on_line:
                continue
            offs = []
            for n in on_line:
                h = min(y1 - y0, n.box[3] - n.box[1])
                offs.append(min(abs((y0 + y1) - (n.box[1] + n.box[3])) / 2, abs(y1 - n.box[3])) / max(h, 1e-6))
            if min(offs) > 0.3:
                return [f"the {kind} ({tok.text}) is not on its test name's line: it may be the next row's"]
    return []
