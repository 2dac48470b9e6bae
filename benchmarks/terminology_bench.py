"""Terminology and UCUM speed: what every digitised row and every indexed quantity pays. Prints Markdown."""
import os
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ingestion.terminology import lab_tests, match_test, search_tests, warm_up  # noqa: E402
from resources import ucum  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))


def per_call(fn, items) -> float:
    """Median over rounds of microseconds per call."""
    times = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        for item in items:
            fn(*item)
        times.append((time.perf_counter() - start) / len(items) * 1e6)
    return statistics.median(times)


def main() -> None:
    start = time.perf_counter()
    warm_up()
    load_ms = (time.perf_counter() - start) * 1000
    known = [(name, t.units[0] if t.units else None) for t in lab_tests() for name in t.names[:2]]
    garbled = [(n.replace("i", "l").replace("o", "0"), u) for n, u in known]
    unknown = [(f"Unlisted analyte {i}", "mg/dL") for i in range(len(known))]
    printed_units = [(f"x10^{i % 12}/uL",) for i in range(2000)] + [(u,) for u in ("mg/dl", "uIU/mL", "K/uL", "mmol/l")]
    quantities = [
        (Decimal(i) / 10, code) for i, code in enumerate(["mg/dL", "mmol/L", "10*3/uL", "g/L", "m[IU]/L"] * 400)
    ]
    ucum.normalize_unit.cache_clear()
    match = match_test.__wrapped__  # first sight of each name: what a new report pays
    rows = [
        ("index load (first call)", f"{load_ms:.0f} ms"),
        (f"match_test, known names ({len(known)})", f"{per_call(match, known):.0f} µs/row"),
        ("match_test, OCR-garbled names", f"{per_call(match, garbled):.0f} µs/row"),
        ("match_test, unknown names (-> None)", f"{per_call(match, unknown):.0f} µs/row"),
        (
            "normalize_unit, first sight (uncached)",
            f"{per_call(lambda u: ucum.normalize_unit.__wrapped__(u), printed_units):.0f} µs",
        ),
        ("normalize_unit, cached", f"{per_call(ucum.normalize_unit, printed_units):.1f} µs"),
        ("canonical (quantity index)", f"{per_call(ucum.canonical, quantities):.1f} µs"),
        (
            "search_tests (review page box)",
            f"{per_call(search_tests, [('gluc',), ('hemo',), ('2345',)]) / 1000:.1f} ms",
        ),
    ]
    print("| operation | cost |\n|---|---|")
    for name, cost in rows:
        print(f"| {name} | {cost} |")


if __name__ == "__main__":
    main()
