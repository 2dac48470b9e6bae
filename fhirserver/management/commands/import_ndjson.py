"""manage.py import_ndjson FILE [FILE ...]: load NDJSON (a Bulk Data export's files, or any) into the
server through its write path: each line validated, versioned and indexed; bad lines reported by
file and line number, the others stored. Exit status 1 when any line was refused. See docs/bulk.md."""
from __future__ import annotations

import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from fhirserver.bulk import importer


class Command(BaseCommand):
    help = "Import FHIR NDJSON files (one resource per line; '-' reads standard input)"

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", help="NDJSON files, or '-' for standard input")
        parser.add_argument("--batch", type=int, default=importer.BATCH, help="lines per database transaction")
        parser.add_argument("--processes", type=int, default=1,
                            help="worker processes sharing the lines (each resource always to the same one)")
        parser.add_argument("--errors", help="also write the refused lines' OperationOutcomes to this NDJSON file")

    def handle(self, *args, files, batch, processes, errors, **options):
        for name in files:
            if name != "-" and not Path(name).is_file():
                raise CommandError(f"{name}: no such file")
        started = time.perf_counter()
        result = importer.import_files(files, batch=max(1, batch), processes=max(1, processes))
        seconds = time.perf_counter() - started
        for error in result.errors:
            self.stderr.write(str(error))
        if errors:
            Path(errors).write_text(importer.errors_ndjson(result))
        rate = result.stored / seconds if seconds else 0
        self.stdout.write(f"{result.stored} resources stored ({result.created} created, {result.updated} updated), "
                          f"{len(result.errors)} lines refused, in {seconds:.1f} s ({rate:,.0f}/s)")
        if result.errors:
            raise SystemExit(1)
