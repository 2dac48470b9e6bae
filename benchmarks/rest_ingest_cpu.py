"""CPU cost of transaction ingest, in-process: the figure that stays stable on a busy machine.

Posts the same Bundles as rest_bench.py (100 Observations each) through Django's full request path
(middleware, view, router, bundles, validation, indexing, PostgreSQL writes) in this process, and
reports CPU ms per resource of the Python side and of the PostgreSQL backend serving it
(/proc/<pid>/stat of `pg_backend_pid()`, so the database must be local).

    .venv/bin/python benchmarks/rest_ingest_cpu.py [--bundles 10] [--rounds 5] [--profile out.prof]

CPU time too grows when other processes share the cores (caches, SMT siblings): the lowest round is
the figure to compare; the median is printed next to it.
"""
from __future__ import annotations

import argparse
import cProfile
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.server import bench_env, ensure_database  # noqa: E402

DB = os.environ.get("REST_CPU_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/rest_ingest_cpu")
os.environ.update(bench_env(DB, ALLOWED_HOSTS="testserver"))


def backend_cpu_seconds(pid: int) -> float:
    if pid <= 0:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bundles", type=int, default=10, help="Bundles per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", help="write a cProfile of the measured Bundles here")
    args = parser.parse_args()

    ensure_database(DB)
    import django
    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from benchmarks.rest_bench import observation_bundle

    call_command("migrate", "--noinput", verbosity=0)
    client = Client()

    def post(body: dict) -> None:
        response = client.post(
            "/fhir", json.dumps(body), content_type="application/fhir+json", HTTP_PREFER="return=minimal"
        )
        assert response.status_code == 200, response.content[:2000]

    post(
        {
            "resourceType": "Bundle",
            "type": "transaction",
            "entry": [
                {
                    "resource": {"resourceType": "Patient", "id": "cpu-1"},
                    "request": {"method": "PUT", "url": "Patient/cpu-1"},
                }
            ],
        }
    )
    for _ in range(3):  # warm up: imports, compiled paths, model classes
        post(observation_bundle("Patient/cpu-1", 100))
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0] if connection.vendor == "postgresql" else 0
    profiler = cProfile.Profile(time.process_time) if args.profile else None
    n = 100 * args.bundles
    rounds = []
    for _ in range(args.rounds):
        bundles = [observation_bundle("Patient/cpu-1", 100) for _ in range(args.bundles)]
        cpu0, db0, wall0 = time.process_time(), backend_cpu_seconds(pid), time.perf_counter()
        if profiler:
            profiler.enable()
        for bundle in bundles:
            post(bundle)
        if profiler:
            profiler.disable()
        rounds.append((1000 * (time.process_time() - cpu0) / n, 1000 * (backend_cpu_seconds(pid) - db0) / n,
                       1000 * (time.perf_counter() - wall0) / n))
    if profiler:
        profiler.dump_stats(args.profile)
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    for label, i in (("Python", 0), ("PostgreSQL backend", 1), ("wall", 2)):
        values = sorted(r[i] for r in rounds)
        print(f"{label}: min {values[0]:.3f} median {values[len(values) // 2]:.3f} ms/resource")
    print(f"{args.rounds} rounds x {n} resources, load {load}{' [profiled]' if profiler else ''}")


if __name__ == "__main__":
    main()
