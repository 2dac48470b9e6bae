"""Load the search benchmark data set through the server's own write path (HTTP transactions to gunicorn).

    SEARCH_BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/search_bench \
        .venv/bin/python benchmarks/search_load.py --patients 10000 --panels 10

Each patient gets `--panels` DiagnosticReports of 10 Observations each (10,000 x 10 = 1,000,000
Observations and 100,000 reports), one transaction Bundle per patient (110 resources). Prints the
load rate. Resumable: `--first N` starts at patient N.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from search_data import bench_database_url  # noqa: E402

os.environ["DATABASE_URL"] = bench_database_url()
os.environ["REST_BENCH_DATABASE_URL"] = os.environ["DATABASE_URL"]  # rest_bench's server helpers serve this database
os.environ.setdefault("BENCH_PORT", "8777")

import rest_bench  # noqa: E402  (server start-up and HTTP helpers shared with the REST benchmark)
from search_data import panels_bundle, patients_bundle  # noqa: E402


def _connect(url: str, dbname: str | None = None):
    from urllib.parse import urlparse

    import psycopg2

    parsed = urlparse(url)
    conn = psycopg2.connect(host=parsed.hostname, port=parsed.port or 5432, user=parsed.username or "postgres",
                            dbname=dbname or parsed.path.lstrip("/"))
    conn.autocommit = True
    return conn


def analyze(url: str) -> None:
    """Refresh planner statistics and the visibility map after a bulk load (autovacuum lags far
    behind a load this fast): without the map, every index-only probe also reads the table row."""
    conn = _connect(url)
    with conn.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    conn.close()


def ensure_database(url: str) -> None:
    """Create the benchmark database if missing (kept apart from the test and REST-bench databases)."""
    from urllib.parse import urlparse

    name = urlparse(url).path.lstrip("/")
    conn = _connect(url, "postgres")
    with conn.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if not cursor.fetchone():
            cursor.execute(f'CREATE DATABASE "{name}"')
    conn.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--panels", type=int, default=10)
    parser.add_argument("--first", type=int, default=0)
    parser.add_argument("--clients", type=int, default=3)
    parser.add_argument("--workers", type=int, default=3)
    args = parser.parse_args()
    ensure_database(os.environ["DATABASE_URL"])
    server = rest_bench.start_server(args.workers)
    try:
        started = time.perf_counter()
        for first in range(args.first, args.patients, 100):
            rest_bench.post("/fhir", patients_bundle(first, min(100, args.patients - first)))
        print(f"patients: {args.patients - args.first} in {time.perf_counter() - started:.1f} s", flush=True)
        started, done = time.perf_counter(), 0
        per_bundle = args.panels * 11

        def load(n: int) -> int:
            rest_bench.post("/fhir", panels_bundle(n, args.panels))
            return per_bundle

        with ThreadPoolExecutor(max_workers=args.clients) as pool:
            for count in pool.map(load, range(args.first, args.patients)):
                done += count
                if done % (per_bundle * 500) == 0:
                    elapsed = time.perf_counter() - started
                    print(f"  {done:,} resources in {elapsed:.0f} s: {done / elapsed:,.0f} resources/s", flush=True)
        elapsed = time.perf_counter() - started
        analyze(os.environ["DATABASE_URL"])
        print(f"loaded {done:,} Observations+DiagnosticReports in {elapsed:.1f} s = {done / elapsed:,.0f} resources/s "
              f"({args.clients} client threads, {args.workers} gunicorn workers)")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
