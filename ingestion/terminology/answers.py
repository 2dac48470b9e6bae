"""Printed qualitative results -> coded answers (SNOMED CT qualifier values), else None (kept as text)."""
from __future__ import annotations

import re

from .catalogue import Answer, answers

_SIGNS = {"+ve": "positive", "-ve": "negative", "pos.": "positive", "neg.": "negative"}


def _answer_key(text: str) -> str:
    t = text.strip().lower()
    for sign, word in _SIGNS.items():
        t = t.replace(sign, word)
    t = re.sub(r"\brh\s*\(?\s*d?\s*\)?", " rh ", t)  # Rh, RhD, Rh(D)
    t = re.sub(r"[-_/]", " ", t)
    t = re.sub(r"[^a-z0-9+ ]", "", t)
    t = re.sub(r"\s+", " ", t).strip()
    return re.sub(r"^(a|b|ab|o) rh ", r"\1 ", t)  # "B Rh(D) negative" -> "b negative"


def normalize_answer(printed: str | None) -> Answer | None:
    """'NEGATIVE' -> Negative (260385009); '2+' -> ++; 'Non-Reactive' -> Non-Reactive; 'Yellowish' -> None."""
    if not printed:
        return None
    key = _answer_key(printed)
    table = answers()
    if key in table:
        return table[key]
    # "Negative (<10 mg/dL)" / "Positive (1+)": the leading word decides when the rest is detail.
    head = re.split(r"[(\[]", printed, maxsplit=1)[0]
    head_key = _answer_key(head)
    if head_key != key and head_key in table:
        return table[head_key]
    return None
