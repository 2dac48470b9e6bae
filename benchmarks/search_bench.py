"""Search benchmark on the data set loaded by search_load.py / search_bulk_load.py (PostgreSQL).

Starts gunicorn on that database and measures, from this separate process: p50 latency of each
benchmark query (sequential requests over many patients), a mixed workload's throughput (wrk), and
the EXPLAIN ANALYZE plan of the slowest query. Prints Markdown for docs/benchmarks.md.

    SEARCH_BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/search_bench \
        .venv/bin/python benchmarks/search_bench.py

On an empty database it first loads BENCH_SEARCH_PATIENTS (100) patients through HTTP (search_load.py);
load bigger sets beforehand with search_load.py or search_bulk_load.py. BENCH_SECURE=1 runs the mixed
workload once more on a server with authorisation on, a system token and an audit record per request
(issue 17), beside the security-off run.
"""
from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from search_data import bench_database_url  # noqa: E402

os.environ["DATABASE_URL"] = bench_database_url()
os.environ["REST_BENCH_DATABASE_URL"] = os.environ["DATABASE_URL"]  # rest_bench's server helpers serve this database
os.environ.setdefault("BENCH_PORT", "8778")

import rest_bench  # noqa: E402
from search_load import analyze, ensure_database  # noqa: E402

Q = lambda v: quote(v, safe="")  # noqa: E731
BASELINE = lambda n: f"/fhir/Patient/sp-{n}"  # noqa: E731  (read by id: what the machine gives any request)
QUERIES = {
    "patient+category, sort -date": lambda n: (
        f"/fhir/Observation?patient=sp-{n}&category=laboratory&_sort=-date&_count=50"
    ),
    "code+value+date": lambda n: (
        f"/fhir/Observation?code={Q('http://loinc.org|718-7')}&value-quantity=gt15&date=ge2026-01-01&_count=50"
    ),
    "chain subject:Patient.identifier": lambda n: (
        f"/fhir/Observation?subject:Patient.identifier={Q('urn:bench:mrn|' + str(n))}&code=718-7&_count=50"
    ),
    "_has (selective)": lambda n: (
        f"/fhir/Patient?_has:Observation:patient:code=4548-4&identifier={Q('urn:bench:mrn|' + str(n))}"
    ),
    "_has (broad)": lambda n: "/fhir/Patient?_has:DiagnosticReport:subject:code=58410-2&_count=50",
    "DiagnosticReport patient+category+date": lambda n: (
        f"/fhir/DiagnosticReport?patient=sp-{n}&category=LAB&date=ge2025-01-01"
    ),
}


def loaded_patients() -> list[int]:
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT,
                   env=dict(rest_bench.ENV, DJANGO_SETTINGS_MODULE="fhirserver.settings.test"), check=True)
    # patients with lab reports (a load cut short leaves some without)
    code = ("import django;django.setup();from fhirserver.search.models import ReferenceIndex as X;"
            "ids=X.objects.filter(resource_type='DiagnosticReport',name='subject',target_id__startswith='sp-').values_list('target_id',flat=True).distinct();"
            "print(' '.join(i[3:] for i in ids))")
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=dict(rest_bench.ENV, DJANGO_SETTINGS_MODULE="fhirserver.settings.test"),
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return sorted(int(x) for x in out.split())


def counts() -> str:
    code = (
        "import django;django.setup();from django.db import connection;c=connection.cursor();"
        'c.execute("select resource_type,count(*) from storage_resourcerecord where not deleted "'
        '"group by 1 order by 2 desc limit 4");'
        "print(', '.join(f'{n:,} {t}' for t,n in c.fetchall()))"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=dict(rest_bench.ENV, DJANGO_SETTINGS_MODULE="fhirserver.settings.test"),
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def p50(make, patients: list[int], n: int) -> tuple[float, int]:
    times, total = [], 0
    for i in range(n):
        started = time.perf_counter()
        with urllib.request.urlopen(
            rest_bench.BASE + make(patients[(i * 7919) % len(patients)]), timeout=60
        ) as response:
            body = response.read()
        times.append((time.perf_counter() - started) * 1000)
        total += body.count(b'"mode":"match"')
    return statistics.median(times), total // n


def explain(path: str) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of every SELECT the server runs for `path` (run once before, so
    the plans are those of a warm cache, as in the latency runs)."""
    code = f"""
import django; django.setup()
from django.conf import settings
from django.db import connection, reset_queries
from django.test import Client
client = Client(HTTP_HOST="127.0.0.1")
client.get({path!r})
settings.DEBUG = True
reset_queries()
client.get({path!r})
statements = [q["sql"] for q in connection.queries if q["sql"].startswith("SELECT")]
with connection.cursor() as cursor:
    for sql in statements:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
        print(sql[:400] + (" ..." if len(sql) > 400 else ""))
        print("\\n".join(row[0] for row in cursor.fetchall()))
        print()
"""
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=rest_bench.ENV, check=True, capture_output=True, text=True
    ).stdout


def main() -> None:
    workers = int(os.environ.get("BENCH_WORKERS", "2"))
    seconds = int(os.environ.get("BENCH_SECONDS", "15"))
    samples = int(os.environ.get("BENCH_SAMPLES", "60"))
    ensure_database(os.environ["DATABASE_URL"])
    patients = loaded_patients()
    if not patients:  # `make bench` on a fresh database: load a small data set through HTTP first
        subprocess.run([sys.executable, str(ROOT / "benchmarks" / "search_load.py"),
                        "--patients", os.environ.get("BENCH_SEARCH_PATIENTS", "100")], cwd=ROOT, check=True)
        patients = loaded_patients()
    analyze(os.environ["DATABASE_URL"])
    server = rest_bench.start_server(workers)
    try:
        results = {"read by id (baseline, not a search)": p50(BASELINE, patients, samples)}
        for name, make in QUERIES.items():
            p50(make, patients, 5)  # warm up
            results[name] = p50(make, patients, samples)
        mixed = [
            make(patients[(i * 104729) % len(patients)])
            for i in range(200)
            for make in (
                QUERIES["patient+category, sort -date"],
                QUERIES["code+value+date"],
                QUERIES["chain subject:Patient.identifier"],
                QUERIES["_has (selective)"],
                QUERIES["DiagnosticReport patient+category+date"],
            )
        ]
        rest_bench.wrk(mixed, 3, 8)  # warm every worker and its database connection
        pids, backends = rest_bench.server_pids(server), rest_bench.backend_pids()
        cpu_before = rest_bench.cpu_seconds(pids), rest_bench.cpu_seconds(backends)
        load = rest_bench.wrk(mixed, seconds, 8)
        requests = load["rps"] * seconds
        cpu = [(after - before) * 1000 / requests for before, after in
               zip(cpu_before, (rest_bench.cpu_seconds(pids), rest_bench.cpu_seconds(backends)))]
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    secured = None
    if os.environ.get("BENCH_SECURE"):  # the same mixed workload with a system token and an audit record each
        server = rest_bench.start_server(workers, rest_bench.SECURE_ENV)
        try:
            headers = {"Authorization": f"Bearer {rest_bench.system_token()}"}
            rest_bench.wrk(mixed, 3, 8, headers)
            secured = rest_bench.wrk(mixed, seconds, 8, headers)
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
    machine = os.getloadavg()
    print(
        f"data: {counts()} ({len(patients):,} benchmark patients); "
        f"machine load average {machine[0]:.1f} on {os.cpu_count()} cores\n"
    )
    print("| query | p50 (ms), one sequential client | matches per page |")
    print("|---|---|---|")
    for name, (median, matches) in results.items():
        path = QUERIES[name](patients[0]) if name in QUERIES else BASELINE(patients[0])
        print(f"| `{path}` ({name}) | {median:.1f} | {matches} |")
    print(
        f"\nmixed workload (5 query shapes, 8 connections, {seconds} s, {workers} gunicorn workers): "
        f"{load['rps']:.0f} requests/s, p50 {load['p50_ms']:.1f} ms, p99 {load['p99_ms']:.1f} ms, "
        f"non-2xx {load['errors']}; "
        f"CPU per request: gunicorn {cpu[0]:.2f} ms + PostgreSQL {cpu[1]:.2f} ms\n"
    )
    if secured is not None:
        print(f"the same mixed workload with a system token and its audit record on every request: "
              f"{secured['rps']:.0f} requests/s, p50 {secured['p50_ms']:.1f} ms, non-2xx {secured['errors']}; "
              f"{secured['rps'] / load['rps']:.2f}x the security-off run above\n")
    for slowest in sorted(QUERIES, key=lambda k: -results[k][0])[:int(os.environ.get("BENCH_PLANS", "2"))]:
        print(
            f"EXPLAIN (ANALYZE, BUFFERS) of `{slowest}`:\n\n"
            f"```\n{explain(QUERIES[slowest](patients[len(patients) // 2]))}```\n"
        )


if __name__ == "__main__":
    main()
