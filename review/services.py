"""Writes of the review pages: upload documents for `$digitize` (a clinician's decisions are in review.decisions)."""
from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from fhirserver.core.errors import FhirError
from fhirserver.storage import repository
from ingestion import digitize
from ingestion.edge.jobs import queue
from ingestion.edge.uploads import Upload, sniff_media_type
from ingestion.models import DigitizeJob


class ReviewError(ValueError):
    """A decision that cannot be recorded as asked; the message is shown to the reviewer."""


# --- upload ----------------------------------------------------------------------------------------
@dataclass
class Submitted:
    filename: str
    job: DigitizeJob | None = None
    error: str = ""


def submit_documents(
    *, documents: list[tuple[str, bytes]], subject: str | None, requested_by: str, base_url: str
) -> list[Submitted]:
    """Each document becomes a `$digitize` job (or finds the one it already has); refusals per file."""
    if subject:
        require_patient(subject)
    limit = settings.INGESTION["MAX_FILE_BYTES"]
    out = []
    for filename, data in documents:
        if not data:
            out.append(Submitted(filename, error="The file is empty"))
            continue
        if len(data) > limit:
            out.append(Submitted(filename, error=f"The file is {len(data):,} bytes; the limit is {limit:,} bytes"))
            continue
        try:
            media_type = sniff_media_type(data)
        except FhirError as error:
            out.append(Submitted(filename, error=error.diagnostics))
            continue
        job, needs_run = digitize.submit(Upload(data=data, media_type=media_type, filename=filename, subject=subject),
                                         base_url=base_url, requested_by=requested_by)
        if needs_run:
            queue.enqueue(job.id, data=data)
        out.append(Submitted(filename, job=job))
    return out


def require_patient(reference: str) -> None:
    try:
        repository.read("Patient", reference.split("/", 1)[1])
    except FhirError:
        raise ReviewError(f"{reference} does not exist") from None


__all__ = ["ReviewError", "submit_documents", "require_patient"]
