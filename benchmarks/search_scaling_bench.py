"""Search as data grows (issue 17 item 3): the US Core lab searches at three sizes of one data set.

Three databases hold the search benchmark's data (`search_data.py`: 100 lab Observations and 10
DiagnosticReports per patient) for 1,000, 10,000 and 30,000 patients (100k, 1M and 3M Observations),
each loaded by `search_bulk_load.py` (the larger ones as copies of the smaller, then appended to). Every
patient holds the same amount, so a search for one patient returns as much at every size: only the
tables grow. One gunicorn per database (production settings, authorisation off: the search itself is
measured), all three up at once; the measurement runs in rounds, each round every query at every size
in turn, so the machine's load drifts alike over all three. p50 over every request of a query at a size.

    .venv/bin/python benchmarks/search_scaling_bench.py [--rounds 5] [--per-round 20]

loads what is missing first (`search_scale_100k`, `search_scale_1m`, `search_scale_3m` on 127.0.0.1:5432;
about 3.3M resources through the write path, half an hour on a quiet 2-core machine, 22 GB), or measures
the databases named in `SCALING_DATABASES="100k=postgres://...,1M=...,3M=..."`.

The yardstick of each size is the read by id in the same rounds (`Patient/X`): what any request costs.
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]
from server import bench_env, start_gunicorn  # noqa: E402

Q = lambda v: quote(v, safe="")  # noqa: E731
QUERIES = {
    "read Patient/X (yardstick)": lambda p: f"/fhir/Patient/{p}",
    "Observation?patient&category": lambda p: f"/fhir/Observation?patient={p}&category=laboratory",
    "Observation?patient&category&date": lambda p: (
        f"/fhir/Observation?patient={p}&category=laboratory&date=ge2025-06-01"),
    "Observation?patient&code": lambda p: f"/fhir/Observation?patient={p}&code={Q('http://loinc.org|718-7')}",
    "DiagnosticReport?patient&_include=result": lambda p: (
        f"/fhir/DiagnosticReport?patient={p}&_include=DiagnosticReport:result"),
    "Observation?patient&_revinclude=Provenance:target": lambda p: (
        f"/fhir/Observation?patient={p}&_revinclude=Provenance:target"),
    "Observation?patient&category&_total=accurate": lambda p: (
        f"/fhir/Observation?patient={p}&category=laboratory&_total=accurate"),
}


PG = "postgres://postgres@127.0.0.1:5432"
SIZES = [("100k", 1_000), ("1M", 10_000), ("3M", 30_000)]  # (label, patients): 100 Observations each


def _admin(sql: str) -> None:
    import psycopg2

    admin = psycopg2.connect(f"{PG}/postgres")
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(sql)
    admin.close()


def _exists(name: str) -> bool:
    import psycopg2

    try:
        psycopg2.connect(f"{PG}/{name}").close()
        return True
    except psycopg2.OperationalError:
        return False


def load_missing() -> list[tuple[str, str]]:
    """The default databases, each loaded as a copy of the one below it plus its own patients."""
    below = None
    for label, patients in SIZES:
        name = f"search_scale_{label.lower()}"
        if not _exists(name) or len(patients_of(f"{PG}/{name}")[0]) < patients:
            if _exists(name):
                _admin(f'DROP DATABASE "{name}"')
            _admin(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{below[0]}"' if below else ""))
            first = below[1] if below else 0
            subprocess.run([sys.executable, str(ROOT / "benchmarks/search_bulk_load.py"), "--panels", "10",
                            "--first", str(first), "--patients", str(patients)], check=True,
                           env=dict(os.environ, SEARCH_BENCH_DATABASE_URL=f"{PG}/{name}"))
        below = (name, patients)
    return [(label, f"{PG}/search_scale_{label.lower()}") for label, _ in SIZES]


def patients_of(url: str) -> tuple[list[str], int]:
    """The database's patient ids and its count of Observations."""
    import psycopg2

    conn = psycopg2.connect(url)
    live = "FROM storage_resourcerecord WHERE NOT deleted AND resource_type"
    with conn.cursor() as cursor:
        cursor.execute(f"SELECT logical_id {live} = 'Patient'")
        ids = [row[0] for row in cursor.fetchall()]
        cursor.execute(f"SELECT count(*) {live} = 'Observation'")
        observations = cursor.fetchone()[0]
    conn.close()
    return ids, observations


def get(port: int, path: str) -> float:
    started = time.perf_counter()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=120) as response:
        response.read()
        assert response.status == 200, (path, response.status)
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--per-round", type=int, default=20, help="requests of each query at each size per round")
    parser.add_argument("--port", type=int, default=8790)
    args = parser.parse_args()
    named = os.environ.get("SCALING_DATABASES")
    sizes = [item.split("=", 1) for item in named.split(",")] if named else load_missing()
    servers, ports, people, counts = [], {}, {}, {}
    try:
        for number, (size, url) in enumerate(sizes):
            people[size], counts[size] = patients_of(url)
            ports[size] = args.port + number
            servers.append(start_gunicorn(ports[size], bench_env(url), "-w", "1"))
        rng = random.Random(1)
        times: dict[tuple[str, str], list[float]] = {(q, s): [] for q in QUERIES for s, _ in sizes}
        for name, make in QUERIES.items():  # warm each server's cache of plans and pages a little
            for size, _ in sizes:
                get(ports[size], make(rng.choice(people[size])))
        load = [os.getloadavg()[0]]
        for _ in range(args.rounds):
            for name, make in QUERIES.items():
                for size, _ in sizes:
                    for _ in range(args.per_round):
                        times[(name, size)].append(get(ports[size], make(rng.choice(people[size]))))
            load.append(os.getloadavg()[0])
    finally:
        for server in servers:
            server.terminate()
    first, last = sizes[0][0], sizes[-1][0]
    print(f"Observations: {', '.join(f'{s} = {counts[s]:,}' for s, _ in sizes)}; rounds {args.rounds} x "
          f"{args.per_round} requests per query and size; load average {min(load):.1f}-{max(load):.1f}\n")
    print(f"| query | {' | '.join(f'p50 {s} (ms)' for s, _ in sizes)} | {last} / {first} |")
    print(f"|---|{'---|' * len(sizes)}---|")
    for name in QUERIES:
        p50 = {s: statistics.median(times[(name, s)]) for s, _ in sizes}
        print(f"| `{name}` | {' | '.join(f'{p50[s]:.1f}' for s, _ in sizes)} | {p50[last] / p50[first]:.2f} |")


if __name__ == "__main__":
    main()
