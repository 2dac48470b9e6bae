"""Which panel a report is: from its printed heading, or from the LOINC codes of its results."""
from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache

from .catalogue import Panel, panels
from .names import name_key


@cache
def _headings() -> dict[str, Panel]:
    out: dict[str, Panel] = {}
    for panel in panels():
        for heading in panel.headings:
            out.setdefault(name_key(heading), panel)
    return out


def _panel_of_heading(heading: str) -> Panel | None:
    key = name_key(heading)
    if not key:
        return None
    table = _headings()
    if key in table:
        return table[key]
    # A heading that contains a known heading as whole words: "COMPLETE BLOOD COUNT (CBC) - EDTA".
    best = None
    for known, panel in table.items():
        if len(known) >= 3 and re.search(rf"\b{re.escape(known)}\b", key):
            if best is None or len(known) > len(best[0]):
                best = (known, panel)
    return best[1] if best else None


def _panel_of_results(loincs: set[str]) -> Panel | None:
    """The panel whose members hold every result and whose core the results cover best (>= 60%)."""
    if not loincs:
        return None
    best: tuple[float, int, Panel] | None = None
    for panel in panels():
        if not loincs <= panel.members:
            continue
        covered = sum(1 for group in panel.core if group & loincs) / len(panel.core)
        if covered < 0.6:
            continue
        candidate = (covered, -len(panel.members), panel)
        if best is None or candidate[:2] > best[:2]:
            best = candidate
    return best[2] if best else None


def match_panel(heading_or_loincs: str | Iterable[str | None]) -> Panel | None:
    """A printed panel heading ('Lipid Profile') or the result codes of a report -> its panel LOINC."""
    if isinstance(heading_or_loincs, str):
        return _panel_of_heading(heading_or_loincs)
    return _panel_of_results({code for code in heading_or_loincs if code})
