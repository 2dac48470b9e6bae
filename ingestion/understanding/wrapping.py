"""Test names printed over two lines in a narrow name column.

A line holding only words in the name column is either a panel heading, a comment, or part of a
wrapped test name: the rest of the name above it ("Mean Corpuscular Hemoglobin" / "Concentration
(MCHC)", values on the first line) or the start of the name below it (values on the last line).
What decides, in order: the line sits under the name (same left edge or a hanging indent) and
within the name column; it is set tighter to one neighbour than rows are to each other (lines of
one cell share a leading, rows have padding); with even spacing, the typography (the name above
ends in a comma or an open bracket, the line starts in lower case, the first word would not have
fitted on the line above) and the terminology (the joined name is a known test where the part
alone is not). A heading is never joined to a name the terminology knows on its own.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from ingestion.understanding.geometry import Cell, VisualRow

# A name that stops on one of these is not finished: the rest is on the next line.
UNFINISHED = re.compile(r"(,|-|/|\(|&|\band|\bof|\bwith|\bfor|\bin|\bto|\bper|\bby)$", re.I)
NOT_A_NAME = re.compile(r"^(\*|†|#|method|comment|note|remark|interpretation|performed|please|calculated|reference:|"
                        r"source|result(s)? (verified|confirmed)|tested|analy[sz]ed|values? (above|below)|reported|"
                        r"see |end of)", re.I)
MAX_WORDS = 6
TIGHT = 0.8  # share of the row pitch under which two lines belong to one cell

KnownName = Callable[[str], bool]


@dataclass
class NameLine:
    row: VisualRow
    text: str
    panel_before: str | None  # the heading in force before this line (restored when it joins a name)
    next_row: VisualRow | None = None  # the row whose name it starts, when it is a prefix
    index: int = -1  # position among the table's rows
    rows: list[VisualRow] = field(default_factory=list)  # the lines it stands for (more when a name takes 3+)

    def __post_init__(self):
        self.rows = self.rows or [self.row]

    def extends_to(self, row: VisualRow, index: int, pitch: float) -> bool:
        """This line, taken for a heading, is the first line of a name whose next line is `row`: just
        above it, set tight, same left edge (or `row` indented under it)."""
        h = row.height
        x0, first = row.tokens[0].x0, self.row.tokens[0].x0
        return index == self.index + 1 and 0 < row.yc - self.row.yc < TIGHT * pitch and \
            first - 0.6 * h <= x0 <= first + 4 * h and not _heading_like(self.text, row.text)

    def role(self, above: dict | None, above_row: VisualRow | None, below: dict | None, below_row: VisualRow | None,
             pitch: float, known_name: KnownName | None, lead: str = "") -> str | None:
        """'continuation' of the name above, 'prefix' of the name below, or None (heading or comment).
        `above` / `below` are the cells by column kind of the neighbouring result rows (None when the
        neighbour is not a result); `lead` the line(s) just above that start the same name, if any."""
        words = self.text.split()
        if not words or len(words) > MAX_WORDS or self.text.rstrip().endswith(":") or NOT_A_NAME.match(self.text):
            return None
        h = self.row.height
        up = _gap(above, above_row, self.row, h, from_above=True)
        down = _gap(below, below_row, self.row, h, from_above=False)
        tight = TIGHT * pitch
        up_name, down_name = _name(above), _name(below)
        up_ok = up is not None and _agrees(known_name, up_name, f"{_join(up_name, self.text)}")
        down_ok = down is not None and _agrees(known_name, down_name, _join(_join(lead, self.text), down_name))
        if up_ok and up < tight and (down is None or up <= 0.9 * down):
            return "continuation"
        if down_ok and down < tight and (up is None or down <= 0.9 * up):
            return "prefix"
        if up is not None and down is not None and min(up, down) < tight:
            return None  # tight to a neighbour it does not join: a comment or note of that row
        # Even spacing: the typography and the terminology decide.
        if up_ok and up < 1.3 * pitch and not _heading_like(self.text, up_name) and (
                UNFINISHED.search(up_name) or up_name.count("(") > up_name.count(")") or words[0][0].islower()
                or _would_not_fit(above, above_row, self.row, h)
                or _known_only_joined(known_name, up_name, _join(up_name, self.text))):
            return "continuation"
        if down_ok and down < 1.3 * pitch and not _heading_like(self.text, down_name) and (
                UNFINISHED.search(self.text) or self.text.count("(") > self.text.count(")")
                or _known_only_joined(known_name, down_name, _join(_join(lead, self.text), down_name))):
            return "prefix"
        return None


def _name(cells: dict | None) -> str:
    return " ".join(c.text for c in (cells or {}).get("name", []))


def _join(first: str, second: str) -> str:
    if first.endswith("-") and second[:1].islower():  # "Gamma-Glutamyl-" / "transferase"
        return first + second
    return f"{first} {second}".strip()


def _gap(cells: dict | None, row: VisualRow | None, line: VisualRow, h: float, *, from_above: bool) -> float | None:
    """Centre-to-centre distance between the line and a neighbouring result row when the line sits
    under that row's name (same left edge or a hanging indent) and stays inside its name column."""
    if cells is None or row is None or (from_above and not cells.get("name")):
        return None
    if cells.get("name"):  # (a last line may hold the values alone, under a name printed above them)
        name_x0 = min(c.x0 for c in cells["name"])
        x0 = line.tokens[0].x0
        first, later = (name_x0, x0) if from_above else (x0, name_x0)  # a later line may have a hanging indent
        if not first - 0.6 * h <= later <= first + 4 * h:
            return None
    others = [c.x0 for kind, cs in cells.items() if kind != "name" for c in cs]
    if others and line.tokens[-1].x1 > min(others) + 0.5 * h:
        return None
    distance = line.yc - row.yc if from_above else row.yc - line.yc
    return distance if distance > 0 else None


def _agrees(known_name: KnownName | None, alone: str, joined: str) -> bool:
    """No joining a known test to words that make it unknown (a heading, a note)."""
    if known_name is None or not alone:
        return True
    return not known_name(alone) or known_name(joined)


def _known_only_joined(known_name: KnownName | None, alone: str, joined: str) -> bool:
    return known_name is not None and known_name(joined) and not known_name(alone)


def _heading_like(text: str, name: str) -> bool:
    letters = re.sub(r"[^A-Za-z]", "", text)
    return len(letters) > 3 and letters.isupper() and not re.sub(r"[^A-Za-z]", "", name).isupper()


def _would_not_fit(cells: dict, row: VisualRow, line: VisualRow, h: float) -> bool:
    """The line's first word is too wide for the room left after the name above: why it was broken."""
    others = [c.x0 for kind, cs in cells.items() if kind != "name" for c in cs]
    if not others:
        return False
    on_row = {id(t) for t in row.tokens}  # the name's last printed line, not its widest
    ends = [t.x1 for c in cells["name"] for t in c.tokens if id(t) in on_row]
    if not ends:
        return False
    name_end = max(ends)
    first = line.tokens[0]
    return name_end + 0.3 * h + (first.x1 - first.x0) > min(others) - 1.5 * h


__all__ = ["NameLine", "Cell"]
