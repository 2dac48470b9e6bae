"""Results printed as lines of text rather than a table: one line per test, key: value, and blocks.

  one line per test   Glucose 112 mg/dL (70-99) H         (also with dotted leaders: `GLUCOSE ..... 112`)
  key: value          Glucose: 112 mg/dL [70-99] H
  blocks              Glucose                              (a name line, then labelled lines under it)
                        Result: 112 mg/dL (Ref 70-99) H
                        Reference range: 70-99 / Flag: H

A line is a result only on typed evidence: its words before the first value are a test name the
terminology knows surely (`known_name`), and what follows reads as a value (a number, a comparator
and a number, or a qualitative result). Everything after the value is read by the same parsers as a
table row's cells (rows.py): this module only says which words are the name, the value, the unit,
the range and the flag, as a `RawRow`. Lines the table reader already took are never looked at.
"""
from __future__ import annotations

import re
from collections.abc import Callable

from ingestion.understanding.geometry import Cell, Token, VisualRow
from ingestion.understanding.table import RawRow
from ingestion.understanding.values import NumberStyle, looks_like_range, parse_flag, parse_value

LEADER = re.compile(r"[.·…_]{3,}")
VALUE_START = re.compile(r"^(?:[<>≤≥]=?|=)?\d|^(?:[<>≤≥]=?)$")
RESULT_LABEL = re.compile(r"^(result|results|value|your result|finding|observed)\s*:?$", re.I)
RANGE_LABEL = re.compile(r"^(ref(erence)?( range| interval| values?)?|normal( range| values?)?|range|interval|"
                         r"expected)\s*[:.]?$", re.I)
FLAG_LABEL = re.compile(r"^(flag|status|abn(ormal)?)\s*:?$", re.I)
UNIT_LABEL = re.compile(r"^units?\s*:?$", re.I)
QUALITATIVE = re.compile(r"^(negative|positive|not|detected|non-reactive|nonreactive|reactive|normal|"
                         r"abnormal|trace|clear|cloudy|yellow|amber|straw|absent|present|nil|neg|pos)\b", re.I)


def read_free_lines(rows: list[VisualRow], style: NumberStyle, unit_of: Callable[[str], str | None],
                    known_name: Callable[[str], bool] | None) -> tuple[list[RawRow], set[int]]:
    """Result rows printed as text lines, from `rows` (the lines no table took), and the ids of the
    lines used."""
    if known_name is None:
        return [], set()
    results: list[RawRow] = []
    used: set[int] = set()
    panel: str | None = None
    i = 0
    while i < len(rows):
        row = rows[i]
        tokens = _tokens(row)
        parsed = _one_line(tokens, style, unit_of, known_name)
        if parsed is not None:
            results.append(_raw(row.page, parsed, panel))
            used.add(id(row))
            i += 1
            continue
        block = _block(rows, i, style, unit_of, known_name)
        if block is not None:
            parsed, taken = block
            results.append(_raw(row.page, parsed, panel))
            used.update(id(r) for r in rows[i:i + taken])
            i += taken
            continue
        text = " ".join(t.text for t in tokens)
        if tokens and not re.search(r"\d", text) and ":" not in text and 1 <= len(tokens) <= 6 and \
                not known_name(text):
            panel = text.strip("- ").strip() or panel  # "--- LIPID PANEL ---", "Chemistry"
        i += 1
    return results, used


def _tokens(row: VisualRow) -> list[Token]:
    """The row's words with dotted leaders taken out (a word glued to its leader is split from it)."""
    out: list[Token] = []
    for t in _unglued(row.tokens):
        pieces = [p for p in LEADER.split(t.text)]
        if len(pieces) == 1:
            out.append(t)
            continue
        per_char = (t.x1 - t.x0) / max(len(t.text), 1)
        pos = 0
        for piece in pieces:
            start = t.text.index(piece, pos) if piece else pos
            pos = start + len(piece)
            piece = piece.strip(" .:")
            if piece:
                out.append(Token(piece, t.x0 + start * per_char, t.y0, t.x0 + pos * per_char, t.y1, t.confidence,
                                 t.page))
    return [t for t in out if t.text.strip(".:")]


def _unglued(tokens: list[Token]) -> list[Token]:
    """A bracket glued to the word before it starts a word of its own ("m²(>=60)" -> "m²", "(>=60)")."""
    out = []
    for t in tokens:
        cut = re.search(r"(?<=[^\s(\[])[(\[]", t.text)
        if cut is None:
            out.append(t)
            continue
        per_char = (t.x1 - t.x0) / max(len(t.text), 1)
        x = t.x0 + cut.start() * per_char
        out += [Token(t.text[:cut.start()], t.x0, t.y0, x, t.y1, t.confidence, t.page),
                Token(t.text[cut.start():], x, t.y0, t.x1, t.y1, t.confidence, t.page)]
    return out


def _starts_value(tokens: list[Token], j: int, style: NumberStyle) -> bool:
    text = tokens[j].text
    if VALUE_START.match(text):
        if re.match(r"^[<>≤≥]=?$", text):
            return j + 1 < len(tokens) and bool(re.match(r"^\d", tokens[j + 1].text))
        return True
    return bool(QUALITATIVE.match(text))


def _clean_name(tokens: list[Token]) -> str:
    return " ".join(t.text for t in tokens).strip(" .:-")


def _one_line(tokens, style, unit_of, known_name) -> dict | None:
    """name + value (+ unit, range, flag) on one line, the name known to the terminology."""
    for j in range(1, min(len(tokens), 9)):
        if not _starts_value(tokens, j, style):
            continue
        name = _clean_name(tokens[:j])
        if not re.search(r"[A-Za-z]{2}", name) or not known_name(name):
            # "25-OH Vitamin D", "Vitamin B12": a digit may start a word of the name; look further
            continue
        tail = _tail(tokens[j:], style, unit_of)
        if tail is None:
            continue
        return {"name": tokens[:j]} | tail
    return None


def _tail(tokens: list[Token], style: NumberStyle, unit_of) -> dict | None:
    """value, then optionally unit, range and flag, in the order lines print them."""
    if not tokens:
        return None
    k = 2 if re.match(r"^[<>≤≥]=?$", tokens[0].text) else 1
    if len(tokens) > 1 and tokens[0].text.lower() == "not" and tokens[1].text.lower() == "detected":
        k = 2  # "Not Detected"
    value = tokens[:k]
    parsed = parse_value(" ".join(t.text for t in value), style, qualitative_any=True)
    if parsed is None or not parsed.readable:
        return None
    rest = tokens[k:]
    out: dict[str, list[Token]] = {"value": value}
    flag: list[Token] = []
    if rest and parse_flag(rest[-1].text) and not _in_brackets(rest, len(rest) - 1):
        flag, rest = [rest[-1]], rest[:-1]
    if rest and parse_flag(rest[0].text) and not unit_of(rest[0].text):  # "112 H mg/dL"
        flag, rest = flag or [rest[0]], rest[1:]
    if len(rest) >= 2 and not rest[1].text.startswith(("(", "[")) and unit_of(f"{rest[0].text} {rest[1].text}") \
            and unit_of(rest[0].text) in (None, unit_of(f"{rest[0].text} {rest[1].text}")):  # "mL/min/1.73 m2"
        out["unit"], rest = rest[:2], rest[2:]
    elif rest and not rest[0].text.startswith(("(", "[")) and not looks_like_range(rest[0].text) and \
            (unit_of(rest[0].text) or re.search(r"[A-Za-z%µ/]", rest[0].text)) and not RANGE_LABEL.match(rest[0].text):
        out["unit"], rest = [rest[0]], rest[1:]
    if rest:
        range_tokens = [t for t in rest if not RANGE_LABEL.match(t.text.strip("([:"))]
        text = " ".join(t.text for t in range_tokens).strip()
        bare = re.sub(r"^[(\[]\s*(ref(erence)?|normal|range)\s*[:.]?\s*", "(", text, flags=re.I)
        if range_tokens and (looks_like_range(bare.strip("()[]")) or looks_like_range(bare)):
            out["range"] = [_retext(range_tokens, _balanced(bare))]
        elif range_tokens:
            return None  # words after the value that are no unit, range or flag: not a result line
    if flag:
        out["flag"] = flag
    return out


def _balanced(text: str) -> str:
    """The range without a bracket left open by a label taken out ("(Ref 3.5-5.0)" -> "3.5-5.0")."""
    if text.count("(") != text.count(")") or text.count("[") != text.count("]"):
        return text.strip("()[] ")
    return text


def _in_brackets(tokens: list[Token], k: int) -> bool:
    before = " ".join(t.text for t in tokens[:k])
    return before.count("(") > before.count(")") or before.count("[") > before.count("]")


def _retext(tokens: list[Token], text: str) -> Token:
    t0, t1 = tokens[0], tokens[-1]
    return Token(text, t0.x0, min(t.y0 for t in tokens), t1.x1, max(t.y1 for t in tokens),
                 min(t.confidence for t in tokens), t0.page)


def _block(rows: list[VisualRow], i: int, style, unit_of, known_name) -> tuple[dict, int] | None:
    """A name line alone, then labelled lines under it (Result: ..., Reference range: ..., Flag: ...)."""
    name_tokens = _tokens(rows[i])
    name = _clean_name(name_tokens)
    if not name_tokens or i + 1 >= len(rows) or not re.search(r"[A-Za-z]{2}", name) or not known_name(name):
        return None
    parsed: dict | None = None
    taken = 1
    for row in rows[i + 1:i + 5]:
        if row.page != rows[i].page:
            break
        tokens = _tokens(row)
        label, rest = _label(tokens)
        if label is None:
            break
        if RESULT_LABEL.match(label):
            if parsed is not None:
                break
            parsed = _tail(rest, style, unit_of)
            if parsed is None:
                return None
        elif parsed is not None and RANGE_LABEL.match(label) and "range" not in parsed and rest:
            parsed["range"] = [_retext(rest, _balanced(" ".join(t.text for t in rest)))]
        elif parsed is not None and FLAG_LABEL.match(label) and rest and parse_flag(" ".join(t.text for t in rest)):
            parsed["flag"] = rest
        elif parsed is not None and UNIT_LABEL.match(label) and rest and "unit" not in parsed:
            parsed["unit"] = rest
        else:
            break
        taken += 1
    if parsed is None:
        return None
    return {"name": name_tokens} | parsed, taken


def _label(tokens: list[Token]) -> tuple[str | None, list[Token]]:
    """('Result', the words after it) for a line 'Result: ...' (a label of one to three words, a colon)."""
    for n in range(1, min(4, len(tokens) + 1)):
        words = " ".join(t.text for t in tokens[:n])
        if words.endswith(":"):
            return words, tokens[n:]
        if n < len(tokens) and tokens[n].text == ":":
            return words, tokens[n + 1:]
    return None, tokens


def _raw(page: int, parsed: dict, panel: str | None) -> RawRow:
    cells = {kind: [Cell(list(tokens))] for kind, tokens in parsed.items() if tokens}
    return RawRow(page=page, cells=cells, panel=panel)
