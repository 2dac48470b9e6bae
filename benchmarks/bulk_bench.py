"""Bulk Data benchmark: NDJSON import rate, system $export rate and the exporting process's peak memory.

On its own PostgreSQL database (BULK_BENCH_DATABASE_URL, default .../bulk_bench, emptied first), in one run:
  1. import: `--observations` lab Observations (search_data's tests and units) of `--observations / 10`
     patients, from NDJSON through `fhirserver.bulk.importer` (validated, versioned, indexed), against
     the yardstick of the same number of resources written through the same repository calls without
     validation (the mode search_bulk_load.py loads in): import rate as resources/s and that ratio;
  2. export: a system `$export` job (`fhirserver.bulk.export.run`) in a fresh child process, against the
     yardstick of a plain server-side-cursor `SELECT content` of the same rows in the same process,
     discarding them: export rate as resources/s and that ratio, and the child's peak RSS
     (ru_maxrss), beside the same child's RSS after start-up (Django loaded, nothing exported).
Prints Markdown.

    BULK_BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/bulk_bench \
        nice -n 10 .venv/bin/python benchmarks/bulk_bench.py --observations 100000 [--processes 2]
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]
from search_data import CATEGORY, LOINC, TESTS, UCUM, patient  # noqa: E402

DATABASE_URL = os.environ.get("BULK_BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bulk_bench")
os.environ["DATABASE_URL"] = DATABASE_URL
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fhirserver.settings.test")
os.environ.setdefault("BULK_FILES_DIR", tempfile.mkdtemp(prefix="bulk-bench-"))


def observation(number: int, patient_number: int, prefix: str = "bo") -> dict:
    rng = random.Random(number)
    loinc, name, unit, low, high = TESTS[number % len(TESTS)]
    when = f"2025-{1 + number % 12:02d}-{1 + number % 28:02d}T08:{number % 60:02d}:00Z"
    return {
        "resourceType": "Observation", "id": f"{prefix}-{number}", "status": "final",
        "category": [{"coding": [{"system": CATEGORY, "code": "laboratory", "display": "Laboratory"}]}],
        "code": {"coding": [{"system": LOINC, "code": loinc, "display": name}], "text": name},
        "subject": {"reference": f"Patient/sp-{patient_number}"}, "effectiveDateTime": when, "issued": when,
        "valueQuantity": {"value": round(rng.uniform(low, high), 1), "unit": unit, "system": UCUM, "code": unit},
        "referenceRange": [{"low": {"value": low, "unit": unit, "system": UCUM, "code": unit},
                            "high": {"value": high, "unit": unit, "system": UCUM, "code": unit}}],
    }


def resources(observations: int, prefix: str = "bo"):
    patients = max(1, observations // 10)
    for n in range(patients):
        item = patient(n)
        if prefix != "bo":
            item = {**item, "id": f"{prefix}-{item['id']}"}
        yield item
    for n in range(observations):
        yield observation(n, n % patients, prefix)


def fresh_database() -> None:
    parts = urlparse(DATABASE_URL)
    name = parts.path.lstrip("/")
    admin = parts._replace(path="/postgres").geturl()
    import psycopg2

    conn = psycopg2.connect(admin)
    conn.autocommit = True  # DROP/CREATE DATABASE run outside a transaction
    try:
        with conn.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
            cursor.execute(f'CREATE DATABASE "{name}"')
    finally:
        conn.close()


def setup() -> None:
    import django

    django.setup()


def bench_import(observations: int, processes: int) -> dict:
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from fhirserver.bulk import importer
    from fhirserver.storage import repository

    folder = Path(tempfile.mkdtemp(prefix="bulk-bench-ndjson-"))
    path = folder / "population.ndjson"
    with open(path, "w") as out:
        for item in resources(observations):
            out.write(json.dumps(item, separators=(",", ":")) + "\n")
    count = observations + max(1, observations // 10)

    backend = _backend_pid() if processes == 1 else None
    cpu, pg_cpu = _own_cpu_s(), _backend_cpu_s(backend)
    started = time.perf_counter()
    result = importer.import_files([path], processes=processes)
    imported = time.perf_counter() - started
    cpu, pg_cpu = tuple(b - a for a, b in zip(cpu, _own_cpu_s())), _backend_cpu_s(backend) - pg_cpu
    assert result.stored == count and not result.errors, (result.stored, result.errors[:3])

    # Yardstick: the same repository writes, batch for batch, without validation (other ids), on a
    # tenth of the data (at least 2,000) to keep the run short; its rate is what is compared.
    batch = []
    yard_observations = max(2000, observations // 10)
    started = time.perf_counter()
    for item in resources(yard_observations, prefix="yard"):
        batch.append(item)
        if len(batch) == importer.BATCH:
            _store(repository, batch)
            batch = []
    _store(repository, batch)
    stored = time.perf_counter() - started
    return {"count": count, "import_s": imported, "cpu_s": cpu, "pg_cpu_s": pg_cpu if backend else None,
            "yard_count": yard_observations + max(1, yard_observations // 10),
            "yardstick_s": stored, "ndjson_bytes": path.stat().st_size}


def _own_cpu_s() -> tuple[float, float]:
    """CPU seconds of this process and of its finished children (the import's worker processes)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


def _backend_pid() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def _backend_cpu_s(pid: int | None) -> float:
    """CPU seconds of the PostgreSQL backend serving this process (a local server: /proc)."""
    if not pid:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _store(repository, batch: list[dict]) -> None:
    with repository.write_transaction(), repository.deferred_indexing():
        for item in batch:
            repository.create(item["resourceType"], item, id=item["id"])


def export_child() -> None:
    """In a fresh process: RSS after start-up, the yardstick SELECT stream, then a system export job
    and a Patient-level one of the same types."""
    setup()
    from django.db import connection, transaction
    from django.utils import timezone

    from fhirserver.bulk import export
    from fhirserver.bulk.models import ExportJob

    start_rss = _rss_mb()
    started = time.perf_counter()
    rows = 0
    with transaction.atomic():
        cursor = connection.chunked_cursor()
        cursor.cursor.itersize = 2000
        cursor.execute("SELECT content FROM storage_resourcerecord WHERE NOT deleted AND resource_type IN "
                       "('Patient', 'Observation') ORDER BY id")
        while batch := cursor.fetchmany(2000):
            rows += len(batch)
        cursor.close()
    select_s = time.perf_counter() - started
    job = ExportJob.objects.create(level="system", request_url="bench", types=["Patient", "Observation"],
                                   transaction_time=timezone.now(), heartbeat_at=timezone.now())
    started = time.perf_counter()
    status = export.run(str(job.id))
    export_s = time.perf_counter() - started
    job.refresh_from_db()
    # The same rows as a Patient-level export: the compartment semi-join and the reference scan.
    patient_job = ExportJob.objects.create(level="patient", request_url="bench", types=["Patient", "Observation"],
                                           transaction_time=timezone.now(), heartbeat_at=timezone.now())
    started = time.perf_counter()
    patient_status = export.run(str(patient_job.id))
    patient_s = time.perf_counter() - started
    patient_job.refresh_from_db()
    print(json.dumps({"status": status, "rows": rows, "select_s": select_s, "export_s": export_s,
                      "exported": sum(item["count"] for item in job.output), "files": len(job.output),
                      "patient_status": patient_status, "patient_s": patient_s,
                      "patient_exported": sum(item["count"] for item in patient_job.output),
                      "start_rss_mb": start_rss, "peak_rss_mb": _rss_mb()}))


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--observations", type=int, default=100_000)
    parser.add_argument("--processes", type=int, default=1, help="import worker processes (import_ndjson --processes)")
    parser.add_argument("--export-child", action="store_true")
    parser.add_argument("--keep", action="store_true", help="reuse the loaded database: export only")
    args = parser.parse_args()
    if args.export_child:
        return export_child()
    loaded = None
    if not args.keep:
        fresh_database()
        setup()
        loaded = bench_import(args.observations, args.processes)
    child = subprocess.run([sys.executable, __file__, "--export-child"], capture_output=True, text=True,
                           env={**os.environ}, check=True)
    exported = json.loads(child.stdout.strip().splitlines()[-1])
    load = os.getloadavg()
    print(f"Database {DATABASE_URL}, {os.cpu_count()} cores, load {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}\n")
    print("| measure | result | yardstick (same run) | ratio |")
    print("|---|---|---|---|")
    if loaded:
        rate = loaded["count"] / loaded["import_s"]
        yard = loaded["yard_count"] / loaded["yardstick_s"]
        print(f"| import_ndjson --processes {args.processes} ({loaded['count']:,} resources, "
              f"{loaded['ndjson_bytes'] / 1e6:.0f} MB) | "
              f"{rate:,.0f} resources/s | repository writes without validation ({loaded['yard_count']:,}): "
              f"{yard:,.0f}/s | "
              f"{rate / yard:.2f} |")
        pg = (f", PostgreSQL backend {loaded['pg_cpu_s'] / loaded['count'] * 1000:.3f} ms"
              if loaded["pg_cpu_s"] is not None else "")
        own, workers = (seconds / loaded["count"] * 1000 for seconds in loaded["cpu_s"])
        split = f" (this process {own:.3f}, worker processes {workers:.3f})" if workers else ""
        print(f"| import CPU per resource | Python {own + workers:.3f} ms{split}{pg} | | |")
    rate = exported["exported"] / exported["export_s"]
    yard = exported["rows"] / exported["select_s"]
    print(f"| system $export ({exported['exported']:,} resources, {exported['files']} files) | {rate:,.0f} "
          f"resources/s | plain server-side-cursor SELECT of the rows: {yard:,.0f}/s | {rate / yard:.2f} |")
    rate = exported["patient_exported"] / exported["patient_s"]
    print(f"| Patient/$export, same types ({exported['patient_exported']:,} resources) | {rate:,.0f} resources/s | "
          f"the same SELECT: {yard:,.0f}/s | {rate / yard:.2f} |")
    print(f"| peak RSS of the exporting process | {exported['peak_rss_mb']:.0f} MB | the same process after "
          f"start-up: {exported['start_rss_mb']:.0f} MB | {exported['peak_rss_mb'] / exported['start_rss_mb']:.2f} |")


if __name__ == "__main__":
    main()
