"""Printed test name + UCUM unit -> LOINC, from a precomputed index over lab_tests.csv.

The name finds the candidate tests (exact key, reordered words, OCR-folded key, then one-or-two
character typos in long words only: "HDL" and "LDL" are one letter apart), then, for decorated names,
without specimen/method/filler words, by the parts around a bracket or comma, and by a known name
inside the printed one with only such words left over. The specimen and the unit
then pick the variant (glucose in mg/dL is 2345-7, in mmol/L 14749-6). When the name is unknown,
the unit contradicts every candidate, or the variants cannot be told apart, the answer is None:
an unknown test keeps its printed name and no code is invented.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Literal

from resources import ucum

from .catalogue import LabTest, lab_tests, tests_by_loinc
from .names import (
    BLOODLIKE,
    SPECIMEN_SYSTEMS,
    is_only_qualifier_words,
    name_key,
    ocr_key,
    sorted_key,
    specimen_class,
    specimen_of_words,
    split_qualifier,
    strip_filler,
    strip_specimen,
)

MatchKind = Literal["exact", "synonym", "ocr", "fuzzy", "name-only", "search"]


@dataclass(frozen=True)
class TestMatch:
    __test__ = False  # not a pytest test class

    loinc: str
    display: str
    property: str
    units: tuple[str, ...]
    score: float  # 0..1: how sure the match is
    kind: MatchKind
    system: str = ""
    scale: str = ""
    component: str = ""

    @classmethod
    def of(cls, test: LabTest, score: float, kind: MatchKind) -> "TestMatch":
        return cls(test.loinc, test.display, test.property, test.units, round(score, 3), kind,
                   test.system, test.scale, test.component)


@dataclass(frozen=True)
class _Index:
    exact: dict[str, frozenset[int]]
    reordered: dict[str, frozenset[int]]
    ocr: dict[str, frozenset[int]]
    deletions: dict[str, frozenset[str]]  # one-character deletions of OCR keys -> OCR keys


def _add(table: dict[str, set[int]], key: str, rank: int) -> None:
    if key:
        table.setdefault(key, set()).add(rank)


def _deletions(key: str) -> set[str]:
    return {key[:i] + key[i + 1:] for i in range(len(key))}


_FUZZY_MIN_LEN = 6  # below this, one letter is the whole difference between two tests


@cache
def _index() -> _Index:
    exact: dict[str, set[int]] = {}
    reordered: dict[str, set[int]] = {}
    ocr: dict[str, set[int]] = {}
    for test in lab_tests():
        for name in test.names:
            key = name_key(name)
            _add(exact, key, test.rank)
            _add(reordered, sorted_key(key), test.rank)
            _add(ocr, ocr_key(key), test.rank)
    deletions: dict[str, set[str]] = {}
    for key in ocr:
        if len(key) >= _FUZZY_MIN_LEN:
            for d in _deletions(key) | {key}:
                deletions.setdefault(d, set()).add(key)
    freeze = lambda t: {k: frozenset(v) for k, v in t.items()}  # noqa: E731
    return _Index(freeze(exact), freeze(reordered), freeze(ocr), freeze(deletions))


def _edit_distance(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def _tokens_close(a: str, b: str) -> bool:
    """Word by word: short words (HDL/LDL, T3/T4, IgA/IgM) must be equal; long ones may carry a typo."""
    ta, tb = a.split(), b.split()
    if len(ta) != len(tb):
        return False
    for x, y in zip(ta, tb):
        if x != y and (min(len(x), len(y)) < 5 or _edit_distance(x, y) > (1 if len(x) < 10 else 2)):
            return False
    return True


def _fuzzy(key: str) -> frozenset[int]:
    """Tests whose OCR key is within 1 edit (2 for long names) of `key`, if they agree on one test group."""
    idx = _index()
    key = ocr_key(key)
    if len(key) < _FUZZY_MIN_LEN:
        return frozenset()
    near: set[str] = set()
    for d in _deletions(key) | {key}:
        near |= idx.deletions.get(d, frozenset())
    allowed = 1 if len(key) < 10 else 2
    best: dict[int, set[str]] = {}
    for cand in near:
        dist = _edit_distance(key, cand)
        if dist <= allowed and _tokens_close(key, cand):
            best.setdefault(dist, set()).add(cand)
    if not best:
        return frozenset()
    closest = best[min(best)]
    groups = {idx.ocr[c] for c in closest}
    return groups.pop() if len(groups) == 1 else frozenset()


def _lookup(key: str) -> tuple[frozenset[int], MatchKind, float]:
    idx = _index()
    if hit := idx.exact.get(key):
        return hit, "exact", 1.0
    if hit := idx.reordered.get(sorted_key(key)):
        return hit, "synonym", 0.97
    if hit := idx.ocr.get(ocr_key(key)):
        return hit, "ocr", 0.93
    if hit := _fuzzy(key):
        return hit, "fuzzy", 0.85
    return frozenset(), "exact", 0.0


_REFLEX = re.compile(r"\s*\b(?:w/?|with)?\s*reflex\b.*$", re.I)  # "TSH w/Reflex to FT4" is a TSH


def _reduced(key: str) -> list[tuple[str, str | None]]:
    """The key without specimen words, without filler words, and without both."""
    bare, hint = strip_specimen(key)
    out = [(bare, hint), (strip_filler(key), None), (strip_filler(bare), hint)]
    return [(k, h) for k, h in out if k and k != key]


def _resolve(key: str) -> tuple[frozenset[int], MatchKind, float, str | None]:
    if not key:
        return frozenset(), "exact", 0.0, None
    hit, kind, score = _lookup(key)
    if hit:
        return hit, kind, score, None
    for reduced, hint in _reduced(key):
        hit, kind, score = _lookup(reduced)
        if hit:
            return hit, "synonym" if kind == "exact" else kind, score * 0.97, hint
    return frozenset(), "exact", 0.0, None


def _candidates(printed: str) -> tuple[frozenset[int], MatchKind, float, str | None]:
    """Candidate test ranks for a printed name, with kind, base score and a specimen read off the name."""
    printed = _REFLEX.sub("", printed) or printed
    key = name_key(printed)
    found = _resolve(key)
    if found[0] or not key:
        return found
    if parts := split_qualifier(printed):
        head, qualifier = name_key(parts[0]), name_key(parts[1])
        head_hit, qual_hit = _resolve(head)[0], _resolve(qualifier)[0]
        if head_hit and qual_hit and head_hit & qual_hit:
            return head_hit & qual_hit, "synonym", 0.95, None  # "Hemoglobin (Hb)"
        if head_hit and (narrowed := _narrow_by_words(head_hit, qualifier)):
            return narrowed, "synonym", 0.93, None  # "Estimated GFR (CKD-EPI 2021)" -> the CKD-EPI 2021 row
        if head_hit and (is_only_qualifier_words(qualifier) or ucum.normalize_unit(parts[1].strip())):
            return head_hit, "synonym", 0.93, specimen_of_words(qualifier)  # "Creatinine, Serum", "eAG (mg/dL)"
        if qual_hit and not head_hit:
            return qual_hit, "synonym", 0.85, None  # "Estim. Avg Glu (eAG)": the abbreviation names it
    if hit := _contained_name(key):
        return hit, "synonym", 0.9, specimen_of_words(key)
    return frozenset(), "exact", 0.0, None


@cache
def _names_by_word() -> dict[str, tuple[tuple[frozenset[str], frozenset[int]], ...]]:
    """Every table name's words, listed under each of its words (so a query only checks names it shares a word with)."""
    out: dict[str, list[tuple[frozenset[str], frozenset[int]]]] = {}
    for key, ranks in _index().exact.items():
        words = frozenset(key.split())
        for word in words:
            out.setdefault(word, []).append((words, ranks))
    return {word: tuple(names) for word, names in out.items()}


def _contained_name(key: str) -> frozenset[int]:
    """Tests whose longest name is inside the printed one with only filler/specimen/method words left over
    ("VITAMIN D,25-OH,TOTAL,IA", "LDL Chol Calc (NIH)"); nothing when two different tests fit equally."""
    words = set(key.split())
    best, groups = 0, []
    by_word = _names_by_word()
    shared = {entry for word in words for entry in by_word.get(word, ())}
    for name_words, ranks in shared:
        if len(name_words) >= best and name_words <= words and is_only_qualifier_words(" ".join(words - name_words)):
            if len(name_words) > best:
                best, groups = len(name_words), []
            groups.append(ranks)
    if not groups:
        return frozenset()
    every = lab_tests()
    merged = frozenset().union(*groups)
    return merged if len({every[r].component for r in merged}) == 1 or len(groups) == 1 else frozenset()


def _narrow_by_words(ranks: frozenset[int], qualifier: str) -> frozenset[int]:
    """Tests among `ranks` that are, or sit beside, a test with a name holding every qualifier word."""
    words = set(qualifier.split())
    if not words:
        return frozenset()
    every = lab_tests()
    postings = _names_by_word().get(min(words, key=len), ())
    hits = {r for name_words, name_ranks in postings if words <= name_words for r in name_ranks}
    # the qualifier may name a sibling row of the head's test (same component, another method)
    components = {every[r].component for r in ranks}
    return frozenset(r for r in hits if r in ranks or every[r].component in components)


def _enzyme_neutral(code: str) -> str:
    # International units and enzyme units measure the same activities on real reports (ALT in IU/L).
    return code.replace("[IU]", "U").replace("[iU]", "U")


def unit_fit(test: LabTest, unit: str) -> int:
    """2: a unit the test is reported in; 1: same dimension; 0: cannot be this test's unit."""
    if unit in test.units:
        return 2
    for expected in test.units:
        if ucum.same_dimension(expected, unit) or ucum.same_dimension(_enzyme_neutral(expected), _enzyme_neutral(unit)):
            return 1
    return 0


def _by_specimen(tests: list[LabTest], specimen: str | None) -> list[LabTest] | None:
    """Tests of the named specimen; None when the specimen rules them all out."""
    if specimen is None:
        return tests
    exact = [t for t in tests if t.system in SPECIMEN_SYSTEMS[specimen]]
    if exact:
        return exact
    if specimen in BLOODLIKE:  # labs write "blood" for serum tests and "serum" over a CBC
        family = SPECIMEN_SYSTEMS["serum"] | SPECIMEN_SYSTEMS["blood"]
        if specimen in ("serum", "blood"):
            family |= SPECIMEN_SYSTEMS["arterial"] | SPECIMEN_SYSTEMS["venous"]
        return [t for t in tests if t.system in family] or None
    return None


@lru_cache(maxsize=8192)
def match_test(printed_name: str, ucum_unit: str | None, *, specimen: str | None = None,
               qualitative: bool | None = None) -> TestMatch | None:
    """The LOINC test a printed row is, chosen by name, specimen and unit; None when unsure.

    `specimen` is free text (a specimen line, or a panel heading such as "Urinalysis");
    `qualitative` says whether the printed value is a word ("Negative") rather than a number."""
    ranks, kind, score, hint = _candidates(printed_name)
    if not ranks:
        return None
    wanted_specimen = specimen_class(specimen) or hint
    tests = _by_specimen(_tests_of(ranks), wanted_specimen)
    if not tests and wanted_specimen:
        # "pH" on a blood gas report is "pH arterial": the specimen completes the name
        ranks, kind, score = _lookup(f"{name_key(printed_name)} {wanted_specimen}")
        tests = _by_specimen(_tests_of(ranks), wanted_specimen)
    if not tests:
        return None
    if ucum_unit:
        fits = [(unit_fit(t, ucum_unit), t) for t in tests]
        top = max(f for f, _ in fits)
        if top == 0:
            return None  # the unit says this is not the test the name suggests
        tests = [t for f, t in fits if f == top]
        score *= 1.0 if top == 2 else 0.95
    else:
        if qualitative is None:  # unknown: a urine dipstick row is a word, anything else a number
            qualitative = wanted_specimen == "urine"
        tests = [t for t in tests if t.qualitative == qualitative] or tests
        words = set(name_key(printed_name).split())
        if words & _COUNT_WORDS:  # "Lymphs (Absolute)" with its unit lost: the count, not the percentage
            tests = [t for t in tests if t.property == "NCnc"] or tests
        elif words & _PERCENT_WORDS:
            tests = [t for t in tests if "%" in t.units] or tests
        unitless = [t for t in tests if t.qualitative or set(t.units) & {"{ratio}", "{INR}", "[pH]", "1", "%"}]
        if not unitless and len({t.property for t in tests}) > 1:
            # e.g. "Hemoglobin 13.5" with no unit: mass or molar cannot be told; take the usual one, say so
            return TestMatch.of(tests[0], score * 0.6, "name-only")
        tests = unitless or tests
    return TestMatch.of(tests[0], score, kind)


_COUNT_WORDS = {"absolute", "abs", "#", "count"}
_PERCENT_WORDS = {"%", "percent", "percentage"}


def _tests_of(ranks: frozenset[int]) -> list[LabTest]:
    every = lab_tests()
    return [every[r] for r in sorted(ranks)]


def search_tests(query: str, limit: int = 20) -> list[TestMatch]:
    """Tests for a search box: by LOINC code prefix, or by words of the names and display."""
    query = query.strip()
    if not query:
        return []
    if re.fullmatch(r"\d{1,6}(-\d?)?", query):
        hits = [t for t in lab_tests() if t.loinc.startswith(query)]
        return [TestMatch.of(t, 1.0 if t.loinc == query else 0.9, "search") for t in hits][:limit]
    q = name_key(query)
    q_tokens = q.split()
    scored: list[tuple[float, int, LabTest]] = []
    for test, keys in _search_keys():
        best = 0.0
        for key in keys:
            if key == q:
                best = 1.0
                break
            if key.startswith(q):
                best = max(best, 0.9)
            elif all(any(tok.startswith(qt) for tok in key.split()) for qt in q_tokens):
                best = max(best, 0.8 - 0.001 * len(key))
        if best:
            scored.append((best, test.rank, test))
    scored.sort(key=lambda s: (-s[0], s[1]))
    return [TestMatch.of(t, score, "search") for score, _, t in scored[:limit]]


@cache
def _search_keys() -> tuple[tuple[LabTest, tuple[str, ...]], ...]:
    return tuple((t, tuple({name_key(n) for n in (*t.names, t.display, t.component)})) for t in lab_tests())


def lookup_loinc(loinc: str) -> TestMatch | None:
    test = tests_by_loinc().get(loinc)
    return TestMatch.of(test, 1.0, "exact") if test else None


def warm_up() -> None:
    """Build the index now (a server calls this at start so the first report is not slower)."""
    _index()
    _names_by_word()
    _search_keys()
