"""UCUM: printed lab units to UCUM codes, a small parser for the common UCUM grammar, and conversion.

Plain Python (no Django), pure and cached: the ingestion stage calls `normalize_unit` on every printed
unit and the search engine calls `canonical` on every stored and searched quantity.

The parser follows the UCUM grammar (https://ucum.org/ucum): terms joined by `.` and `/`, a leading
`/`, parentheses, integer factors, `10*n`/`10^n`, metric prefixes on metric atoms, integer exponents,
bracketed atoms (`[IU]`, `[HPF]`, `mm[Hg]`) and annotations `{...}` (which mean 1).

Two deliberate departures from UCUM's own commensurability, both so that search never compares
things a clinician would not: `mol` is its own base dimension (mass and amount convert only with a
molar mass), and arbitrary units (`[IU]`, `[arb'U]`, `[CFU]`, `[HPF]`/`[LPF]`, `[pH]`) are each their
own dimension rather than the number 1.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from decimal import Context, Decimal, localcontext
from functools import lru_cache

UCUM_SYSTEM = "http://unitsofmeasure.org"

_D = Decimal

# Metric prefixes (case-sensitive UCUM codes).
PREFIXES: dict[str, Decimal] = {
    "Y": _D("1e24"), "Z": _D("1e21"), "E": _D("1e18"), "P": _D("1e15"), "T": _D("1e12"), "G": _D("1e9"),
    "M": _D("1e6"), "k": _D("1e3"), "h": _D("1e2"), "da": _D("1e1"), "d": _D("1e-1"), "c": _D("1e-2"),
    "m": _D("1e-3"), "u": _D("1e-6"), "n": _D("1e-9"), "p": _D("1e-12"), "f": _D("1e-15"), "a": _D("1e-18"),
    "z": _D("1e-21"), "y": _D("1e-24"),
}

# Canonical base dimensions, in the order they are written in canonical codes.
BASES = ("g", "mol", "m", "s", "K", "[IU]", "[arb'U]", "[CFU]", "[HPF]", "[pH]")

Dims = tuple[int, ...]


def _dims(**exps: int) -> Dims:
    names = {"g": "g", "mol": "mol", "m": "m", "s": "s", "K": "K", "IU": "[IU]", "arb": "[arb'U]",
             "CFU": "[CFU]", "HPF": "[HPF]", "pH": "[pH]"}
    out = [0] * len(BASES)
    for key, exp in exps.items():
        out[BASES.index(names[key])] = exp
    return tuple(out)


NONE: Dims = _dims()


@dataclass(frozen=True)
class Atom:
    factor: Decimal  # size in canonical base units
    dims: Dims
    metric: bool  # may take a prefix


# Unit atoms used in laboratory medicine (UCUM codes, case-sensitive), defined in base units.
ATOMS: dict[str, Atom] = {
    "m": Atom(_D(1), _dims(m=1), True),
    "g": Atom(_D(1), _dims(g=1), True),
    "s": Atom(_D(1), _dims(s=1), True),
    "K": Atom(_D(1), _dims(K=1), True),
    "mol": Atom(_D(1), _dims(mol=1), True),
    "eq": Atom(_D(1), _dims(mol=1), True),  # UCUM: 1 eq = 1 mol
    "osm": Atom(_D(1), _dims(mol=1), True),  # UCUM: 1 osm = 1 mol
    "kat": Atom(_D(1), _dims(mol=1, s=-1), True),
    "U": Atom(_D(1) / _D(60_000_000), _dims(mol=1, s=-1), True),  # umol/min
    "L": Atom(_D("0.001"), _dims(m=3), True),
    "l": Atom(_D("0.001"), _dims(m=3), True),
    "min": Atom(_D(60), _dims(s=1), False),
    "h": Atom(_D(3600), _dims(s=1), False),
    "d": Atom(_D(86400), _dims(s=1), False),
    "wk": Atom(_D(604800), _dims(s=1), False),
    "mo": Atom(_D("2629800"), _dims(s=1), False),  # mean Julian month
    "a": Atom(_D("31557600"), _dims(s=1), False),  # Julian year
    "Pa": Atom(_D(1000), _dims(g=1, m=-1, s=-2), True),
    "bar": Atom(_D("1e8"), _dims(g=1, m=-1, s=-2), True),
    "m[Hg]": Atom(_D("133322000"), _dims(g=1, m=-1, s=-2), True),  # 133.322 kPa
    "m[H2O]": Atom(_D("9806650"), _dims(g=1, m=-1, s=-2), True),
    "%": Atom(_D("0.01"), NONE, False),
    "[ppth]": Atom(_D("1e-3"), NONE, False),
    "[ppm]": Atom(_D("1e-6"), NONE, False),
    "[ppb]": Atom(_D("1e-9"), NONE, False),
    "10*": Atom(_D(10), NONE, False),
    "10^": Atom(_D(10), NONE, False),
    "[IU]": Atom(_D(1), _dims(IU=1), True),
    "[iU]": Atom(_D(1), _dims(IU=1), True),
    "[arb'U]": Atom(_D(1), _dims(arb=1), False),
    "[CFU]": Atom(_D(1), _dims(CFU=1), False),
    "[HPF]": Atom(_D(1), _dims(HPF=1), False),
    "[LPF]": Atom(_D(100), _dims(HPF=1), False),  # UCUM: 1 LPF = 100 HPF
    "[pH]": Atom(_D(1), _dims(pH=1), False),
    "[in_i]": Atom(_D("0.0254"), _dims(m=1), False),
    "[ft_i]": Atom(_D("0.3048"), _dims(m=1), False),
    "[lb_av]": Atom(_D("453.59237"), _dims(g=1), False),
    "[oz_av]": Atom(_D("28.349523125"), _dims(g=1), False),
    "[drp]": Atom(_D("5e-8"), _dims(m=3), False),
    # Temperatures parse as kelvin differences; convert() and canonical() add the offsets.
    "Cel": Atom(_D(1), _dims(K=1), False),
    "[degF]": Atom(_D(5) / _D(9), _dims(K=1), False),
}


class UcumError(ValueError):
    """A code that is not valid in the UCUM grammar this module understands."""


@dataclass(frozen=True)
class Unit:
    """A parsed UCUM term: magnitude in canonical base units and the dimension vector."""
    factor: Decimal
    dims: Dims

    def __mul__(self, other: "Unit") -> "Unit":
        return Unit(self.factor * other.factor, tuple(a + b for a, b in zip(self.dims, other.dims)))

    def __truediv__(self, other: "Unit") -> "Unit":
        return Unit(self.factor / other.factor, tuple(a - b for a, b in zip(self.dims, other.dims)))

    def __pow__(self, exp: int) -> "Unit":
        return Unit(self.factor ** exp, tuple(a * exp for a in self.dims))


_ONE = Unit(_D(1), NONE)
_DELIMS = "./(){}"


class _Parser:
    def __init__(self, code: str):
        self.code = code
        self.i = 0

    def parse(self) -> Unit:
        if not self.code:
            raise UcumError("empty unit")
        unit = self.term()
        if self.i != len(self.code):
            raise UcumError(f"unexpected {self.code[self.i:]!r} in {self.code!r}")
        return unit

    def peek(self) -> str:
        return self.code[self.i] if self.i < len(self.code) else ""

    def term(self) -> Unit:
        if self.peek() == "/":  # leading division: "/uL"
            self.i += 1
            unit = _ONE / self.component()
        else:
            unit = self.component()
        while self.peek() in (".", "/") and self.peek():
            op = self.code[self.i]
            self.i += 1
            rhs = self.component()
            unit = unit * rhs if op == "." else unit / rhs
        return unit

    def component(self) -> Unit:
        ch = self.peek()
        if ch == "(":
            self.i += 1
            unit = self.term()
            if self.peek() != ")":
                raise UcumError(f"missing ')' in {self.code!r}")
            self.i += 1
            return self.annotation_after(unit)
        if ch == "{":
            self.annotation()
            return _ONE
        if ch.isdigit() and not self.code.startswith(("10*", "10^"), self.i):
            start = self.i
            while self.peek().isdigit():
                self.i += 1
            return self.annotation_after(Unit(_D(self.code[start:self.i]), NONE))
        return self.annotation_after(self.simple_unit())

    def annotation(self) -> None:
        end = self.code.find("}", self.i)
        if end < 0 or "{" in self.code[self.i + 1:end]:
            raise UcumError(f"unclosed annotation in {self.code!r}")
        self.i = end + 1

    def annotation_after(self, unit: Unit) -> Unit:
        if self.peek() == "{":
            self.annotation()
        return unit

    def simple_unit(self) -> Unit:
        start = self.i
        if self.code.startswith(("10*", "10^"), self.i):
            self.i += 3
        else:
            depth = 0
            while self.i < len(self.code):
                ch = self.code[self.i]
                if ch == "[":
                    depth += 1
                elif ch == "]":
                    depth -= 1
                elif depth == 0 and (ch in _DELIMS or ch.isdigit() or ch in "+-"):
                    break
                self.i += 1
        symbol = self.code[start:self.i]
        if not symbol:
            raise UcumError(f"expected a unit at {self.code[start:]!r} in {self.code!r}")
        unit = _atom(symbol)
        exp_start = self.i
        if self.peek() in ("+", "-"):
            self.i += 1
        while self.peek().isdigit():
            self.i += 1
        exp_text = self.code[exp_start:self.i]
        if exp_text in ("+", "-"):
            raise UcumError(f"bad exponent in {self.code!r}")
        if symbol in ("10*", "10^") and not exp_text:
            raise UcumError(f"10* needs an exponent in {self.code!r}")
        return unit ** int(exp_text) if exp_text else unit


@lru_cache(maxsize=4096)
def _atom(symbol: str) -> Unit:
    atom = ATOMS.get(symbol)
    if atom is not None:
        return Unit(atom.factor, atom.dims)
    for plen in (2, 1):  # "da" first
        prefix, rest = symbol[:plen], symbol[plen:]
        atom = ATOMS.get(rest)
        if prefix in PREFIXES and atom is not None and atom.metric:
            return Unit(PREFIXES[prefix] * atom.factor, atom.dims)
    raise UcumError(f"unknown unit {symbol!r}")


@lru_cache(maxsize=8192)
def parse(code: str) -> Unit:
    """Parse a case-sensitive UCUM code; raises UcumError when it is not valid."""
    with localcontext() as ctx:
        ctx.prec = 40
        return _Parser(code).parse()


def is_valid(code: str) -> bool:
    try:
        parse(code)
        return True
    except UcumError:
        return False


_WORK = Context(prec=40)  # exact enough for every lab factor; one context, no per-call setup
_TIDY = Context(prec=20)


def _round(value: Decimal) -> Decimal:
    """Drop binary-division noise (1/60e6 * 60e6) so equal quantities compare equal."""
    value = _TIDY.plus(value)
    return value.normalize(_TIDY) if value else Decimal(0)


# Temperatures are the one non-proportional case: kelvin = value * scale + offset.
_TEMPERATURE: dict[str, tuple[Decimal, Decimal]] = {
    "K": (_D(1), _D(0)), "Cel": (_D(1), _D("273.15")),
    "[degF]": (_D(5) / _D(9), _D("459.67") * _D(5) / _D(9)),
}


def _mass_amount_shift(src: Dims, dst: Dims) -> int:
    """+1 when src = dst * g/mol, -1 when src = dst * mol/g, 0 when neither."""
    diff = [a - b for a, b in zip(src, dst)]
    g, mol = BASES.index("g"), BASES.index("mol")
    if all(d == 0 for k, d in enumerate(diff) if k not in (g, mol)):
        if diff[g] == 1 and diff[mol] == -1:
            return 1
        if diff[g] == -1 and diff[mol] == 1:
            return -1
    return 0


def convert(value: Decimal, from_code: str, to_code: str, *, molar_mass: Decimal | None = None) -> Decimal | None:
    """`value` in `from_code` expressed in `to_code`; None when the units are not commensurable.

    Mass and amount of substance convert only with `molar_mass` (g/mol)."""
    if from_code in _TEMPERATURE and to_code in _TEMPERATURE:
        (s1, o1), (s2, o2) = _TEMPERATURE[from_code], _TEMPERATURE[to_code]
        return _round(_WORK.divide(_WORK.add(_WORK.multiply(Decimal(value), s1), o1) - o2, s2))
    try:
        src, dst = parse(from_code), parse(to_code)
    except UcumError:
        return None
    base = _WORK.multiply(Decimal(value), src.factor)
    if src.dims != dst.dims:
        shift = _mass_amount_shift(src.dims, dst.dims)
        if shift == 0 or not molar_mass:
            return None
        base = _WORK.divide(base, molar_mass) if shift == 1 else _WORK.multiply(base, molar_mass)
    return _round(_WORK.divide(base, dst.factor))


@lru_cache(maxsize=1024)
def canonical_code(dims: Dims) -> str:
    """The canonical code of a dimension, e.g. 'g.m-3', 'm-3', '1'."""
    parts = []
    for base, exp in zip(BASES, dims):
        if exp:
            parts.append(base if exp == 1 else f"{base}{exp}")
    return ".".join(parts) or "1"


def canonical(value: Decimal, code: str) -> tuple[Decimal, str] | None:
    """`value code` in canonical base units, e.g. (13.5, 'g/dL') -> (135000, 'g.m-3').

    Two quantities are comparable for search exactly when their canonical codes are equal."""
    if code in _TEMPERATURE:
        scale, offset = _TEMPERATURE[code]
        return _round(_WORK.add(_WORK.multiply(Decimal(value), scale), offset)), "K"
    try:
        unit = parse(code)
    except UcumError:
        return None
    return _round(_WORK.multiply(Decimal(value), unit.factor)), canonical_code(unit.dims)


def same_dimension(code_a: str, code_b: str) -> bool:
    try:
        return parse(code_a).dims == parse(code_b).dims
    except UcumError:
        return False


# --- Printed units -> UCUM -------------------------------------------------------------------------
# Printed lab units are not UCUM: case is unreliable ("mg/dl"), counts hide in words ("K/uL",
# "thou/cumm", "lakhs/cumm") and OCR confuses l/1/I and O/0. Whole-unit spellings first, then a
# power-of-ten numerator, then unit pieces looked up by an OCR-folded key.

_WHOLE: dict[str, str] = {
    "%": "%", "percent": "%", "pct": "%", "g%": "g/dL", "gm%": "g/dL", "gms%": "g/dL", "mg%": "mg/dL",
    "ratio": "{ratio}", "inr": "{INR}", "index": "{index}", "titer": "{titer}", "titre": "{titer}",
    "s/co": "{s_co_ratio}", "ph": "[pH]", "cu.mic": "fL", "cumic": "fL", "cu.microns": "fL", "um3": "fL",
    "pg/cell": "pg", "mm/1sthr": "mm/h", "mm/1sthour": "mm/h", "mm1sthr": "mm/h", "mm/1hr": "mm/h",
    "mm/hour": "mm/h", "hpf": "/[HPF]", "lpf": "/[LPF]", "perhpf": "/[HPF]", "perlpf": "/[LPF]",
    "mmhg": "mm[Hg]", "mmofhg": "mm[Hg]", "ng/mlfeu": "ng/mL{FEU}", "ugfeu/ml": "ug/mL{FEU}",
    "mgfeu/l": "mg/L{FEU}", "ug/mlfeu": "ug/mL{FEU}", "mg/lfeu": "mg/L{FEU}", "ugfeu/l": "ug/L{FEU}",
    "ug/lfeu": "ug/L{FEU}", "eu/dl": "mg/dL", "inrratio": "{INR}", "/100wbc": "/100{WBCs}",
    "/100wbcs": "/100{WBCs}", "°c": "Cel", "degc": "Cel", "degreesc": "Cel", "celsius": "Cel", "°f": "[degF]",
    "degf": "[degF]", "fahrenheit": "[degF]", "/100leukocytes": "/100{WBCs}", "copies/ml": "{copies}/mL", "%hb": "%",
    "%oftotalhb": "%", "mmol/molhb": "mmol/mol", "mosm/kgh2o": "mosm/kg", "mosmol/kgh2o": "mosm/kg",
}

def _fold(text: str) -> str:
    """Lower-case and fold the OCR confusions l/1/I/| and O/0 onto one letter each."""
    return text.lower().translate(str.maketrans("1i|!0", "llllo"))


# Piece spellings, keyed by _fold(spelling).
_PIECES: dict[str, str] = {}
for _code, _spellings in {
    "g": "g gm gms gr gram grams", "mg": "mg mgm milligram milligrams", "ug": "ug mcg microgram micrograms",
    "ng": "ng nanogram nanograms", "pg": "pg picogram picograms", "fg": "fg", "kg": "kg kilogram",
    "L": "l ltr litre liter", "dL": "dl decilitre deciliter", "mL": "ml cc millilitre milliliter",
    "uL": "ul mcl microlitre microliter cumm cmm mm3 cu.mm", "nL": "nl", "pL": "pl",
    "fL": "fl femtolitre femtoliter", "mol": "mol", "mmol": "mmol", "umol": "umol mcmol", "nmol": "nmol",
    "pmol": "pmol", "fmol": "fmol", "eq": "eq", "meq": "meq", "ueq": "ueq", "osm": "osm", "mosm": "mosm mosmol",
    "U": "u unit units", "mU": "mu", "uU": "uu", "kU": "ku", "[IU]": "iu", "m[IU]": "miu", "u[IU]": "uiu",
    "k[IU]": "kiu", "ukat": "ukat", "nkat": "nkat", "kat": "kat", "s": "s sec secs second seconds",
    "min": "min mins minute minutes", "h": "h hr hrs hour hours", "d": "d day days", "wk": "wk week weeks",
    "mm": "mm", "cm": "cm", "m": "m", "um": "um", "nm": "nm", "m2": "m2 m^2", "[HPF]": "hpf", "[LPF]": "lpf",
    "mm[Hg]": "mmhg",
}.items():
    for _sp in _spellings.split():
        _PIECES[_fold(_sp)] = _code

_SINGLE_LETTERS = set("gshdmLlUu")
_COUNT_WORDS = {"cells", "cell", "#", "count", "no", "ery", "rbc", "wbc", "leu", "leuc", "organisms"}
_SUPERSCRIPT = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻", "0123456789-")
_POW_NUMERIC = re.compile(
    r"^[xX*]?\s*1[0oO]\s*(?:\^|\*\*?|[eE]|~|-|\s|\()\s*([0-9oO]{1,2})\)?\s*|^[xX*]\s*1[0oO]([0-9]{1,2})\s*")
_POW_WORDS: dict[str, int] = {"thou": 3, "thousand": 3, "thousands": 3, "mill": 6, "mil": 6, "million": 6,
                              "millions": 6, "lakh": 5, "lakhs": 5, "lac": 5, "lacs": 5, "bill": 9,
                              "billion": 9, "giga": 9, "tera": 12}
_POW_LETTERS = {"K": 3, "k": 3, "M": 6, "G": 9, "T": 12}  # case matters: "G/L" is giga, "g/L" grams
_EGFR = re.compile(r"^ml/min(?:/|per)1[.,]73(?:m[\^*]?2|sq\.?m|m\.?sq)?$", re.I)
_FACTOR_PIECE = re.compile(r"^(\d+)\s*(.+)$")
_ANNOTATED_PIECE = re.compile(r"^(.+?)\s*(creat|creatinine|crea|cr)$", re.I)


def _clean(printed: str) -> str:
    text = re.sub(r"⁻?[⁰¹²³⁴⁵⁶⁷⁸⁹]+", lambda m: "^" + m.group(0).translate(_SUPERSCRIPT), printed.strip())
    text = unicodedata.normalize("NFKC", text)
    text = text.replace("μ", "u").replace("µ", "u").replace("×", "x").replace("·", ".").replace("\u2044", "/")
    text = re.sub(r"\s*/\s*", "/", text)
    text = re.sub(r"\s+per\s+", "/", text, flags=re.I)
    text = re.sub(r"\bcu\.?\s*mm\b", "cumm", text, flags=re.I)
    text = re.sub(r"\(?\s*(?:@|at)?\s*37\s*°?\s*C\s*\)?\s*$", "", text, flags=re.I)  # "U/L (37°C)"
    text = text.strip(" .,;:")
    if len(text) > 2 and text[0] in "([" and text[-1] in ")]":
        text = text[1:-1].strip()
    return text


def _piece(text: str, *, denominator: bool) -> str | None:
    text = text.strip()
    if not text:
        return ""
    if " " in text or "." in text:
        key = text.replace(" ", "").replace(".", "")
        if _fold(key) in _PIECES:
            text = key
    if (m := _ANNOTATED_PIECE.match(text)) and _fold(text) not in _PIECES:
        base = _piece(m.group(1), denominator=denominator)
        return None if not base else base + "{creat}"
    if denominator and (m := _FACTOR_PIECE.match(text)) and not text.replace("^", "").isdigit():
        unit = _piece(m.group(2), denominator=True)
        return None if not unit else f"({m.group(1)}.{unit})"
    text = re.sub(r"\^(-?\d+)$", r"\1", text)
    if len(text) == 1 and text not in _SINGLE_LETTERS:  # "H" in a unit cell is a flag, not hours
        return None
    code = _PIECES.get(_fold(text))
    if code is None and is_valid(text):
        code = text
    return code


def _count_rest(rest: str) -> str | None:
    """The denominator after a count numerator ("/uL", "cells/cumm", "/L")."""
    rest = rest.strip()
    word = re.match(r"^([A-Za-z#]+)\s*(?=/)", rest)
    if word and word.group(1).lower() in _COUNT_WORDS:
        rest = rest[word.end():]
    if not rest.startswith("/"):
        return None
    den = _units("1" + rest)
    return den[2:] if den and den.startswith("1/") else None


def _units(text: str) -> str | None:
    parts = text.split("/")
    head = parts[0].strip()
    if head.lower() in _COUNT_WORDS or head == "1":
        out = [""] if head != "1" else ["1"]
    else:
        first = _piece(head, denominator=False)
        if first is None:
            return None
        out = [first]
    for part in parts[1:]:
        piece = _piece(part, denominator=True)
        if not piece:
            return None
        out.append(piece)
    return "/".join(out)


@lru_cache(maxsize=8192)
def normalize_unit(printed: str | None) -> str | None:
    """The UCUM code for a unit as printed on a lab report, or None when it is not recognised.

    >>> normalize_unit("x10^3/uL"), normalize_unit("uIU/mL"), normalize_unit("mg/dl")
    ('10*3/uL', 'm[IU]/L', 'mg/dL')
    """
    if not printed:
        return None
    text = _clean(printed)
    if not text:
        return None
    squashed = text.replace(" ", "")
    code = _WHOLE.get(squashed.lower())
    if code is None and _EGFR.match(squashed):
        code = "mL/min/{1.73_m2}"
    if code is None:
        code = _power_of_ten(text)
    if code is None:
        code = _units(text)
    if not code or not is_valid(code):
        return None
    return _PREFERRED.get(code, code)


def _power_of_ten(text: str) -> str | None:
    exp, rest = None, ""
    if m := _POW_NUMERIC.match(text):
        exp, rest = int((m.group(1) or m.group(2)).replace("o", "0").replace("O", "0")), text[m.end():]
    elif m := re.match(r"^([A-Za-z]+)\s*(?=/)", text):
        word = m.group(1)
        exp = _POW_LETTERS.get(word) if len(word) == 1 else _POW_WORDS.get(word.lower())
        rest = text[m.end():]
    if exp is None:
        return None
    den = _count_rest(rest)
    if den is None:
        return None
    return f"10*{exp}/{den}"


# Same quantity, the spelling LOINC and US labs use (u[IU]/mL == m[IU]/L).
_PREFERRED = {"u[IU]/mL": "m[IU]/L", "uU/mL": "mU/L", "/mm3": "/uL", "10*3/mm3": "10*3/uL",
              "10*6/mm3": "10*6/uL"}

__all__ = ["UCUM_SYSTEM", "UcumError", "Unit", "parse", "is_valid", "convert", "canonical",
           "canonical_code", "same_dimension", "normalize_unit"]
