"""`python manage.py digitize FILE... [--subject Patient/ID] [--date-order DMY|MDY|YMD] [--json]`: the
$digitize service from a shell.

Each file becomes a job exactly as an upload would (original stored first, idempotent by content),
read in this process. A progress bar runs over batches. Each file's line names its results and lists
every warning of the reading; a file that failed, or from which no result was read, makes the command
exit non-zero at the end. fullUrls use the configured base URL (FHIR_BASE_URL, else what `make run` serves).
"""
from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from fhirserver.core.errors import FhirError
from ingestion import digitize
from ingestion.edge.jobs.pool import read_direct
from ingestion.edge.uploads import Upload, sniff_media_type
from ingestion.results import current_result
from resources import decimals

DEFAULT_BASE_URL = "http://127.0.0.1:8000/fhir"  # where `make run` serves when FHIR_BASE_URL is not set


class Command(BaseCommand):
    help = "Digitize lab report files (PDF or images) into stored FHIR resources."

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", help="PDF, PNG, JPEG, TIFF, WebP or HEIC files")
        parser.add_argument(
            "--subject", help="Patient/<id> the reports are about (else matched or created from the page)"
        )
        parser.add_argument("--date-order", choices=("DMY", "MDY", "YMD"), type=str.upper,
                            help="how the reports write dates (else decided from the page, with a warning when "
                                 "it stays ambiguous)")
        parser.add_argument("--json", action="store_true", help="print the result Bundles as JSON (one per file)")
        parser.add_argument("--base-url", default=None,
                            help=f"FHIR base URL of the result Bundles' fullUrls (default: FHIR_BASE_URL, else "
                                 f"{DEFAULT_BASE_URL})")

    def handle(self, *args, **options):
        subject, as_json = options["subject"], options["json"]
        base_url = (options["base_url"] or settings.FHIR["BASE_URL"] or DEFAULT_BASE_URL).rstrip("/")
        paths = [Path(f) for f in options["files"]]
        missing = [str(p) for p in paths if not p.is_file()]
        if missing:
            raise CommandError(f"not a file: {', '.join(missing)}")
        stages = digitize.default_stages(read=read_direct)
        results, failures = [], 0
        for path in tqdm(paths, desc="digitize", unit="file", disable=len(paths) < 2 or None):
            job = self._one(path, subject, base_url, stages, options["date_order"])
            failures += job.status != "done" or not _observations(job)
            results.append({"file": str(path), "job": str(job.id), "status": job.status,
                            "outcome": current_result(job, base_url) if job.status == "done" else job.error})
            if not as_json:
                with tqdm.external_write_mode():  # the bar steps aside for the line
                    self.stdout.write(self._summary(path, job))
        if as_json:
            self.stdout.write(_dumps(results if len(results) > 1 else results[0]["outcome"]))
        if failures:
            raise CommandError(f"{failures} of {len(paths)} file(s) could not be digitized or gave no result")

    def _one(self, path: Path, subject: str | None, base_url: str, stages, date_order: str | None = None):
        data = path.read_bytes()
        if len(data) > settings.INGESTION["MAX_FILE_BYTES"]:
            raise CommandError(
                f"{path}: {len(data):,} bytes is over the limit of {settings.INGESTION['MAX_FILE_BYTES']:,}"
            )
        try:
            media_type = sniff_media_type(data)
        except FhirError as exc:
            raise CommandError(f"{path}: {exc.diagnostics}") from None
        upload = Upload(data=data, media_type=media_type, filename=path.name, subject=subject, date_order=date_order)
        job, needs_run = digitize.submit(upload, base_url=base_url, requested_by="manage.py digitize")
        return digitize.run(job.id, stages=stages, data=data) if needs_run else digitize.wait(job.id)

    @staticmethod
    def _summary(path: Path, job) -> str:
        if job.status != "done":
            reason = "; ".join(i.get("diagnostics", "") for i in (job.error or {}).get("issue", []))
            return f"{path}: {job.status} - {reason}"
        observations = _observations(job)
        if not observations:
            line = f"{path}: no results were read (is it a lab report?)"
        else:
            line = f"{path}: {observations} results -> {job.diagnostic_report} for {job.patient or '(no patient)'}"
        warnings = [w.get("diagnostics", "") for w in job.warnings or []]
        if warnings:
            line += f"\n  {len(warnings)} warning{'s' if len(warnings) > 1 else ''}:" + "".join(
                f"\n  - {w}" for w in warnings)
        return line


def _observations(job) -> int:
    """The results the job answered with: stored by it, or already stored when the report was there before."""
    entries = (job.result or {}).get("entry", [])
    return sum(1 for e in entries if e.get("resource", {}).get("resourceType") == "Observation")


def _dumps(value) -> str:
    return decimals.dumps(value, pretty=True)  # a printed 0.50 stays 0.50
