"""`ValueSet/$expand?filter=` over the LOINC lab subset, in-process (so network noise does not
drown milliseconds): what the review page's test search pays per keystroke.

The yardstick, measured in the same run and interleaved: a plain read of the same LOINC subset
CodeSystem (`GET /fhir/CodeSystem/loinc-lab-subset`, ~400 concepts).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_terminology .venv/bin/python benchmarks/expand_bench.py
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_terminology")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fhirserver.settings.base")
os.environ["REQUEST_LOG_LEVEL"] = "WARNING"
os.environ["FHIR_AUTH_REQUIRED"] = "false"

from benchmarks.server import ensure_database  # noqa: E402

if os.environ["DATABASE_URL"].startswith("postgres"):
    ensure_database(os.environ["DATABASE_URL"])

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402

ROUNDS, PER_ROUND = 7, 60
TERMS = ["gluc", "hemoglobin", "creat", "sodium", "alk phos", "tsh", "cholesterol", "2345-7", "ferr", "vitamin d"]


def p50_ms(client: Client, paths: list[str]) -> list[float]:
    times = []
    for path in paths:
        started = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.content[:300]
    return times


def main() -> None:
    call_command("migrate", "--noinput", "-v0")
    client = Client()
    expand = [f"/fhir/ValueSet/$expand?url=http://loinc.org/vs&filter={t}&count=20" for t in TERMS]
    read = ["/fhir/CodeSystem/loinc-lab-subset"] * len(TERMS)
    p50_ms(client, expand + read)  # warm: caches, the concept tree, connections
    samples: dict[str, list[float]] = {"expand": [], "read": []}
    for _ in range(ROUNDS):
        for _ in range(PER_ROUND // len(TERMS)):
            samples["expand"] += p50_ms(client, expand)
            samples["read"] += p50_ms(client, read)
    expand_p50, read_p50 = statistics.median(samples["expand"]), statistics.median(samples["read"])
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; {len(samples['expand'])} requests each\n")
    print("| request | p50 ms | p90 ms | ratio to the read |")
    print("|---|---|---|---|")
    for name, label, p50 in (
        ("expand", "`ValueSet/$expand?url=http://loinc.org/vs&filter=<term>&count=20`", expand_p50),
        ("read", "`GET CodeSystem/loinc-lab-subset` (yardstick)", read_p50),
    ):
        p90 = statistics.quantiles(samples[name], n=10)[-1]
        print(f"| {label} | {p50:.2f} | {p90:.2f} | {p50 / read_p50:.2f} |")


if __name__ == "__main__":
    main()
