"""Bulk-load the search benchmark data set in-process through the server's own write path.

Every resource goes through `fhirserver.storage.repository.create` (stamp id and meta, current row,
version row, search index rows from `fhirserver.search.indexer`) inside `deferred_indexing()`, the
mode a transaction Bundle writes in: rows and index rows of a whole batch go out as a few multi-row
INSERTs in one database transaction. What it skips next to HTTP is the HTTP layer, Bundle reference
resolution (ids are assigned here) and fhir.resources validation, so it measures storage + indexing.
Work is split over `--processes` worker processes (patient ranges), one transaction per `--per-batch`
patients; the HTTP write path's own rate is search_load.py's.

    SEARCH_BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/search_bench \
        .venv/bin/python benchmarks/search_bulk_load.py --patients 10000 --panels 10 [--first 0] [--processes 2]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from multiprocessing import get_context
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]
from search_data import bench_database_url, panels_bundle, patient  # noqa: E402

os.environ["DATABASE_URL"] = bench_database_url()
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fhirserver.settings.test")


def _setup() -> None:
    import django

    django.setup()


def store(resources: list[dict]) -> None:
    """One database transaction: every resource created through the repository, indexed at the end."""
    from django.db import transaction

    from fhirserver.storage import repository

    with transaction.atomic(), repository.deferred_indexing():
        for resource in resources:
            repository.create(resource["resourceType"], resource, id=resource["id"])


def resolved(bundle: dict) -> list[dict]:
    """The bundle's resources with server ids and urn:uuid references rewritten, as a transaction would."""
    ids = {e["fullUrl"]: str(uuid.uuid4()) for e in bundle["entry"]}
    out = []
    for entry in bundle["entry"]:
        resource = entry["resource"]
        resource["id"] = ids[entry["fullUrl"]]
        for ref in resource.get("result", []):
            ref["reference"] = f"Observation/{ids[ref['reference']]}"
        out.append(resource)
    return out


def load_range(job: tuple[int, int, int, int]) -> int:
    """Worker: the panels of patients [first, stop), `per_batch` patients per transaction."""
    first, stop, panels, per_batch = job
    _setup()
    done = 0
    for start in range(first, stop, per_batch):
        resources = []
        for n in range(start, min(start + per_batch, stop)):
            resources += resolved(panels_bundle(n, panels))
        store(resources)
        done += len(resources)
    from django.db import connection

    connection.close()
    return done


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--panels", type=int, default=10)
    parser.add_argument("--first", type=int, default=0)
    parser.add_argument(
        "--per-batch", type=int, default=20, help="patients per database transaction (20 = 2,200 resources)"
    )
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--chunk", type=int, default=100, help="patients per job handed to a worker")
    args = parser.parse_args()
    from search_load import analyze, ensure_database

    ensure_database(os.environ["DATABASE_URL"])
    _setup()
    from django.core.management import call_command
    from django.db import connection

    from fhirserver.storage.models import ResourceRecord

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    existing = set(ResourceRecord.objects.filter(resource_type="Patient").values_list("logical_id", flat=True))
    new_patients = [patient(n) for n in range(args.first, args.patients) if f"sp-{n}" not in existing]
    for i in range(0, len(new_patients), 2000):
        store(new_patients[i:i + 2000])
    connection.close()  # no connection may cross the fork
    jobs = [
        (s, min(s + args.chunk, args.patients), args.panels, args.per_batch)
        for s in range(args.first, args.patients, args.chunk)
    ]
    done = len(new_patients)
    with get_context("fork").Pool(args.processes) as pool:
        for count in pool.imap_unordered(load_range, jobs):
            done += count
            elapsed = time.perf_counter() - started
            print(
                f"  {done:,} resources in {elapsed:.0f} s = {done / elapsed:,.0f}/s  "
                f"(load average {os.getloadavg()[0]:.1f})",
                flush=True,
            )
    loaded = time.perf_counter() - started
    analyze(os.environ["DATABASE_URL"])
    print(
        f"loaded {done:,} resources in {loaded:.0f} s = {done / loaded:,.0f} resources/s through repository.create "
        f"({args.processes} processes, {args.per_batch} patients per transaction); "
        f"ANALYZE took {time.perf_counter() - started - loaded:.0f} s"
    )


if __name__ == "__main__":
    main()
