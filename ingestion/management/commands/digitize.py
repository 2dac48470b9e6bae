"""`python manage.py digitize FILE... [--subject Patient/ID] [--json]`: the $digitize service from a shell.

Each file becomes a job exactly as an upload would (original stored first, idempotent by content),
read in this process. A progress bar runs over batches; failures are reported per file and make the
command exit non-zero at the end.
"""
from __future__ import annotations

import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from fhirserver.core.errors import FhirError
from ingestion import digitize
from ingestion.edge.jobs.pool import read_direct
from ingestion.edge.uploads import Upload, sniff_media_type


class Command(BaseCommand):
    help = "Digitize lab report files (PDF or images) into stored FHIR resources."

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", help="PDF, PNG, JPEG, TIFF, WebP or HEIC files")
        parser.add_argument(
            "--subject", help="Patient/<id> the reports are about (else matched or created from the page)"
        )
        parser.add_argument("--json", action="store_true", help="print the result Bundles as JSON (one per file)")
        parser.add_argument("--base-url", default=settings.FHIR["BASE_URL"] or "http://localhost:8000/fhir",
                            help="FHIR base URL used in the result Bundles' fullUrls")

    def handle(self, *args, **options):
        subject, as_json, base_url = options["subject"], options["json"], options["base_url"]
        paths = [Path(f) for f in options["files"]]
        missing = [str(p) for p in paths if not p.is_file()]
        if missing:
            raise CommandError(f"not a file: {', '.join(missing)}")
        stages = digitize.default_stages(read=read_direct)
        results, failures = [], 0
        for path in tqdm(paths, desc="digitize", unit="file", disable=len(paths) < 2 or None):
            job = self._one(path, subject, base_url, stages)
            failures += job.status != "done"
            results.append({"file": str(path), "job": str(job.id), "status": job.status,
                            "outcome": job.result if job.status == "done" else job.error})
            if not as_json:
                with tqdm.external_write_mode():  # the bar steps aside for the line
                    self.stdout.write(self._summary(path, job))
        if as_json:
            self.stdout.write(_dumps(results if len(results) > 1 else results[0]["outcome"]))
        if failures:
            raise CommandError(f"{failures} of {len(paths)} file(s) could not be digitized")

    def _one(self, path: Path, subject: str | None, base_url: str, stages):
        data = path.read_bytes()
        if len(data) > settings.INGESTION["MAX_FILE_BYTES"]:
            raise CommandError(
                f"{path}: {len(data):,} bytes is over the limit of {settings.INGESTION['MAX_FILE_BYTES']:,}"
            )
        try:
            media_type = sniff_media_type(data)
        except FhirError as exc:
            raise CommandError(f"{path}: {exc.diagnostics}") from None
        upload = Upload(data=data, media_type=media_type, filename=path.name, subject=subject)
        job, needs_run = digitize.submit(upload, base_url=base_url.rstrip("/"), requested_by="manage.py digitize")
        return digitize.run(job.id, stages=stages, data=data) if needs_run else digitize.wait(job.id)

    @staticmethod
    def _summary(path: Path, job) -> str:
        if job.status != "done":
            reason = "; ".join(i.get("diagnostics", "") for i in (job.error or {}).get("issue", []))
            return f"{path}: {job.status} - {reason}"
        observations = sum(1 for r in job.created_resources if r.startswith("Observation/"))
        warnings = f", {len(job.warnings)} warning(s)" if job.warnings else ""
        return (
            f"{path}: {observations} results -> {job.diagnostic_report} for {job.patient or '(no patient)'}{warnings}"
        )


def _dumps(value) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)
