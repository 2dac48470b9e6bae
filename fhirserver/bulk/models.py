"""An export's durable state: the job system carries only "run bulk-export for this id"."""
import uuid

from django.db import models


class ExportJob(models.Model):
    QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
    ACTIVE = (QUEUED, RUNNING)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    client_id = models.CharField(max_length=255, blank=True, default="")  # "" when security is off
    level = models.CharField(max_length=16)  # system | patient | group
    group_id = models.CharField(max_length=64, blank=True, default="")
    request_url = models.TextField()  # the kick-off request, for the manifest
    output_format = models.CharField(max_length=64, default="application/fhir+ndjson")
    types = models.JSONField(default=list)  # types asked for (_type), [] = every type the scope allows
    type_filters = models.JSONField(default=dict)  # type -> [query string, ...] (ORed)
    patients = models.JSONField(default=list)  # the `patient` parameter: ids
    elements = models.JSONField(default=list)  # `_elements`: "Type.element" or "element" (every type)
    notes = models.JSONField(default=list)  # what a lenient kick-off ignored: one OperationOutcome each
    since = models.DateTimeField(null=True)
    transaction_time = models.DateTimeField()  # nothing modified after this instant is exported
    scope = models.JSONField(default=dict)  # what the token allowed: readable types and v2 query constraints
    status = models.CharField(max_length=16, default=QUEUED)
    progress = models.CharField(max_length=255, blank=True, default="")
    attempts = models.PositiveIntegerField(default=0)
    heartbeat_at = models.DateTimeField(null=True)
    output = models.JSONField(default=list)  # manifest output entries (type, file name, count)
    errors = models.JSONField(default=list)  # manifest error entries (file name, count)
    deleted = models.JSONField(default=list)  # manifest deleted entries: Bundles of DELETEs since `_since`
    failure = models.JSONField(null=True)  # the OperationOutcome of a failed export
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True)
    expires_at = models.DateTimeField(null=True)

    class Meta:
        indexes = [models.Index(fields=["client_id", "status"], name="bulk_client_status")]

    def __str__(self) -> str:
        return f"export {self.id} ({self.level}, {self.status})"
