"""Bulk-load the search benchmark data set in-process: the same records, versions and index rows
as the HTTP write path (`fhirserver.search.indexer.index_records`), without HTTP, validation and
per-resource statements. Used to reach a million Observations within a working session; the
HTTP load rate is measured separately by search_load.py.

    SEARCH_BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/search_bench .venv/bin/python benchmarks/search_bulk_load.py \
        --patients 10000 --panels 10 [--first 0]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]
from search_data import bench_database_url  # noqa: E402

os.environ["DATABASE_URL"] = bench_database_url()
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fhirserver.settings.test")

import django  # noqa: E402

django.setup()

from django.db import transaction  # noqa: E402

from fhirserver.search.indexer import index_records  # noqa: E402
from fhirserver.storage.models import ResourceRecord, ResourceVersion  # noqa: E402
from search_data import panels_bundle, patient  # noqa: E402
from search_load import analyze  # noqa: E402


def _stamp(resource: dict, when: datetime) -> dict:
    resource["meta"] = {"versionId": "1", "lastUpdated": when.isoformat(timespec="milliseconds").replace("+00:00", "Z")}
    return resource


def store(resources: list[dict]) -> None:
    when = datetime.now(timezone.utc).replace(microsecond=0)
    with transaction.atomic():
        records = ResourceRecord.objects.bulk_create([
            ResourceRecord(resource_type=r["resourceType"], logical_id=r["id"], version=1, last_updated=when, content=_stamp(r, when))
            for r in resources])
        ResourceVersion.objects.bulk_create([
            ResourceVersion(record=rec, resource_type=rec.resource_type, logical_id=rec.logical_id, version=1,
                            last_updated=when, method="POST", content=rec.content) for rec in records])
        index_records(records)


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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--panels", type=int, default=10)
    parser.add_argument("--first", type=int, default=0)
    parser.add_argument("--per-batch", type=int, default=5, help="patients per database transaction")
    args = parser.parse_args()
    started = time.perf_counter()
    existing = set(ResourceRecord.objects.filter(resource_type="Patient").values_list("logical_id", flat=True))
    store([patient(n) for n in range(args.first, args.patients) if f"sp-{n}" not in existing])
    done = 0
    for first in range(args.first, args.patients, args.per_batch):
        resources = []
        for n in range(first, min(first + args.per_batch, args.patients)):
            resources += resolved(panels_bundle(n, args.panels))
        store(resources)
        done += len(resources)
        if (first - args.first) % 500 == 0:
            elapsed = time.perf_counter() - started
            print(f"  patient {first}: {done:,} resources in {elapsed:.0f} s = {done / elapsed:,.0f}/s", flush=True)
    analyze(os.environ["DATABASE_URL"])
    elapsed = time.perf_counter() - started
    print(f"bulk-loaded {done:,} resources in {elapsed:.0f} s = {done / elapsed:,.0f} resources/s")


if __name__ == "__main__":
    main()
