"""A `$digitize` job: one uploaded document on its way to stored FHIR resources.

The job row is the durable record of the work. The original bytes live in a FHIR `Binary` (stored,
with its `DocumentReference`, before any reading starts); the job keeps what every stage produced
(document tree, lab report), the ids of what it stored, and the outcome, so the status endpoint,
a retry and the review page all read the same thing.
"""
from __future__ import annotations

import uuid

from django.db import models


class DigitizeJob(models.Model):
    QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
    STATUSES = [(s, s) for s in (QUEUED, RUNNING, DONE, FAILED, CANCELLED)]

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    status = models.CharField(max_length=16, choices=STATUSES, default=QUEUED)
    stage = models.CharField(max_length=32, default="queued")  # reading, understanding, mapping, storing, ...
    progress = models.FloatField(default=0.0)  # 0..1
    pages_done = models.PositiveSmallIntegerField(default=0)  # while reading: pages read so far
    pages_total = models.PositiveSmallIntegerField(null=True, blank=True)  # pages of the document, once known
    # Idempotency: the same bytes for the same requested subject give the same job.
    content_hash = models.CharField(max_length=64)  # sha256 hex of the original bytes
    subject = models.CharField(max_length=128, blank=True, default="")  # "Patient/<id>" as requested, "" if none
    media_type = models.CharField(max_length=128)
    filename = models.CharField(max_length=255, blank=True, default="")
    size = models.PositiveBigIntegerField(default=0)
    options = models.JSONField(default=dict)  # encounter, performer, category as given by the client
    base_url = models.CharField(max_length=255)  # FHIR base the request came in on: fullUrls of the result
    requested_by = models.CharField(max_length=255, blank=True, default="")  # user or client id, for review lists
    # Stored before reading starts.
    binary_id = models.CharField(max_length=64)
    document_reference_id = models.CharField(max_length=64)
    # What the stages produced (plain JSON: ingestion.document.Document / ingestion.labreport.LabReport).
    document = models.JSONField(null=True, blank=True)
    lab_report = models.JSONField(null=True, blank=True)
    # The outcome.
    result = models.JSONField(null=True, blank=True)  # the collection Bundle served to the client
    created_resources = models.JSONField(default=list)  # ["Patient/..", "DiagnosticReport/..", ...]
    patient = models.CharField(max_length=128, blank=True, default="")  # "Patient/<id>" the results are about
    diagnostic_report = models.CharField(max_length=128, blank=True, default="")
    rows = models.JSONField(default=list)  # [{"row": i, "observation": "Observation/..", "region": {...}}]
    warnings = models.JSONField(default=list)  # OperationOutcome issues of severity warning/information
    error = models.JSONField(null=True, blank=True)  # OperationOutcome when failed
    error_status = models.PositiveSmallIntegerField(null=True, blank=True)  # HTTP status of the failure
    attempts = models.PositiveSmallIntegerField(default=0)
    cancel_requested = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)  # a running job that stops beating is retried

    class Meta:
        indexes = [
            models.Index(fields=["content_hash", "subject"], name="digitize_job_idempotency"),
            models.Index(fields=["status", "created_at"], name="digitize_job_status"),
        ]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"DigitizeJob {self.id} ({self.status})"

    @property
    def finished(self) -> bool:
        return self.status in (self.DONE, self.FAILED, self.CANCELLED)
