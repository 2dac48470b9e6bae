"""Printed test names to comparison keys, and specimen words to specimen classes.

Keys are what both the table and the page are reduced to before comparing: lower case, no accents
or punctuation, British spellings folded to American, simple plurals removed. A second, OCR-folded
key also merges the confusions l/1/I and O/0 so "Creatinlne" and "HbAlc" still meet their test.
"""
from __future__ import annotations

import re
import unicodedata

_GREEK = {"µ": "u", "μ": "u", "β": "beta", "α": "alpha", "γ": "gamma", "δ": "delta", "κ": "kappa", "λ": "lambda"}
_SPELLINGS = [
    (re.compile(r"aem"), "em"),
    (re.compile(r"\boe"), "e"),
    (re.compile(r"leuco"), "leuko"),
    (re.compile(r"sulph"), "sulf"),
    (re.compile(r"(ioni|normali|glycosyla)s"), r"\1z"),
    (re.compile(r"colour"), "color"),
    (re.compile(r"titre"), "titer"),
    (re.compile(r"caerul"), "cerul"),
    (re.compile(r"foet"), "fet"),
]
_NOT_PLURAL = {"plus", "virus", "rhesus", "status", "gas", "pus", "mass", "glass", "less", "abs"}
_OCR_FOLD = str.maketrans("10i|", "loll")
_ABBREVIATIONS = {"ag": "antigen", "ab": "antibody", "antibodie": "antibody"}


def name_key(text: str) -> str:
    """'Haemoglobin (Hb)' -> 'hemoglobin hb'; 'Neut%' -> 'neut %'."""
    text = "".join(_GREEK.get(ch, ch) for ch in text)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    text = re.sub(r"^\s*(?:\d{1,2}[.)]|[-*\u2022>]+)\s+", "", text)  # "1. Glucose", "- Glucose", "• Glucose"
    text = text.replace("&", " and ").replace("w/", "with ")
    for pattern, repl in _SPELLINGS:
        text = pattern.sub(repl, text)
    text = re.sub(r"([%#])", r" \1 ", text)
    text = re.sub(r"[^a-z0-9%#]+", " ", text)
    text = re.sub(r"(\d)(g|mg|h|hr|hrs|hour|min|ml)\b", r"\1 \2", text)  # "75g" == "75 g", "2hr" == "2 hr"
    tokens = [_singular(tok) for tok in text.split()]
    if len(tokens) > 1:  # "Prostate specific Ag", "HCV Ab"; a lone "AG" stays the anion gap
        tokens = [_ABBREVIATIONS.get(tok, tok) for tok in tokens]
    return " ".join(tokens)


def _singular(token: str) -> str:
    if len(token) > 3 and token.endswith("s") and not token.endswith("ss") and token not in _NOT_PLURAL:
        return token[:-1]
    return token


def ocr_key(key: str) -> str:
    return key.translate(_OCR_FOLD)


def sorted_key(key: str) -> str:
    return " ".join(sorted(key.split()))


# Specimen classes and the LOINC systems that belong to them.
SPECIMEN_SYSTEMS: dict[str, frozenset[str]] = {
    "serum": frozenset({"Ser/Plas", "Ser", "Plas", "Ser/Plas/Bld", "PPP", "24H^Urine+Ser/Plas"}),
    "blood": frozenset({"Bld", "BldC", "Ser/Plas/Bld", "RBC"}),
    "arterial": frozenset({"BldA"}),
    "venous": frozenset({"BldV"}),
    "urine": frozenset({"Urine", "Urine sed", "24H^Urine", "24H^Urine+Ser/Plas"}),
    "csf": frozenset({"CSF"}),
    "stool": frozenset({"Stool"}),
    "respiratory": frozenset({"Respiratory"}),
}
BLOODLIKE = frozenset({"serum", "blood", "arterial", "venous"})

# Words printed before or after a test name that only say the specimen ("S-Creatinine", "Urine Protein").
_PREFIX_WORDS = {"s": "serum", "serum": "serum", "ser": "serum", "sr": "serum", "plasma": "serum", "p": "serum",
                 "pl": "serum", "b": "blood", "blood": "blood", "wb": "blood", "u": "urine", "ur": "urine",
                 "urine": "urine", "csf": "csf", "arterial": "arterial", "venous": "venous"}
_SUFFIX_WORDS = {"serum": "serum", "plasma": "serum", "blood": "blood", "urine": "urine", "csf": "csf",
                 "arterial": "arterial", "venous": "venous"}
# Words after a name that say how or what was printed, not which test.
_FILLER = {"level", "test", "assay", "calculated", "calc", "measured", "automated", "auto", "quantitative",
           "quant", "result", "value", "conc", "concentration", "count", "random", "estimation", "by", "method",
           # analytical methods printed after a name ("Creatinine (Jaffe)", "Glucose GOD-POD")
           "jaffe", "enzymatic", "kinetic", "colorimetric", "ise", "immunoassay", "clia", "eclia", "cmia", "elisa",
           "photometric", "uricase", "hexokinase", "biuret", "bcg", "bcp", "gopod", "god", "pod", "turbidimetric",
           "immunoturbidimetric", "nephelometric", "nephelometry", "spectrophotometric", "modified", "ifcc", "ngsp",
           "dcct", "analyzer", "analyser", "instrument", "urease",
           "nih", "martin", "hopkins", "friedewald", "sampson", "ia", "cal", "3rd", "third", "generation",
           "ultrasensitive", "ultra", "as", "of", "in", "levels", "cnt", "no",
           # words whose meaningful uses are whole names in the table ("Bilirubin direct", "Protein total",
           # "Neutrophils %"), or that the unit decides (% or absolute count)
           "direct", "total", "abs", "absolute", "#", "%", "percent", "percentage"}


def specimen_class(text: str | None) -> str | None:
    """The specimen class a free-text specimen or heading names ('EDTA whole blood' -> 'blood')."""
    if not text:
        return None
    t = text.lower()
    for words, cls in ((("urin", "urine"), "urine"), (("csf", "cerebro", "spinal"), "csf"),
                       (("stool", "fec", "faec"), "stool"), (("arter",), "arterial"), (("venous",), "venous"),
                       (("serum", "plasma"), "serum"), (("blood", "edta", "capillary"), "blood"),
                       (("swab", "nasopharyn", "respir"), "respiratory")):
        if any(w in t for w in words):
            return cls
    return None


def strip_specimen(key: str) -> tuple[str, str | None]:
    """'s creatinine' -> ('creatinine', 'serum'); 'protein urine' -> ('protein', 'urine')."""
    tokens = key.split()
    hint = None
    if len(tokens) > 1 and tokens[0] in _PREFIX_WORDS:
        hint = _PREFIX_WORDS[tokens.pop(0)]
    elif len(tokens) > 1 and tokens[-1] in _SUFFIX_WORDS:
        hint = _SUFFIX_WORDS[tokens.pop()]
    if len(tokens) > 1 and tokens[0] == "whole" and hint is None:
        tokens.pop(0)
    return " ".join(tokens), hint


def strip_filler(key: str) -> str:
    tokens = key.split()
    while len(tokens) > 1 and tokens[-1] in _FILLER:
        tokens.pop()
    while len(tokens) > 1 and tokens[0] in _FILLER:
        tokens.pop(0)
    return " ".join(tokens)


def specimen_of_words(key: str) -> str | None:
    """The specimen named by any word of `key` ('serum', 'urine'...), if one is."""
    for tok in key.split():
        if tok in _SUFFIX_WORDS:
            return _SUFFIX_WORDS[tok]
    return None


def split_qualifier(printed: str) -> tuple[str, str] | None:
    """'Hemoglobin (Hb)' -> ('Hemoglobin', 'Hb'); 'Glucose, 2 hr' -> ('Glucose', '2 hr'); else None."""
    if m := re.search(r"\(([^)]*)\)|\[([^\]]*)\]", printed):
        return printed[:m.start()] + " " + printed[m.end():], (m.group(1) or m.group(2) or "")
    if "," in printed:
        head, tail = printed.split(",", 1)
        return head, tail
    return None


def is_only_qualifier_words(key: str) -> bool:
    """True when a bracketed or trailing part names only specimen or method ('serum', 'calculated')."""
    return all(tok in _FILLER or tok in _PREFIX_WORDS or tok in _SUFFIX_WORDS for tok in key.split())
