"""Versioned resource storage.

`ResourceRecord` is the current state of one logical resource (one row per type + id); every
version, the current one included, is also a `ResourceVersion` row. Search index tables
(`fhirserver.search`) hang off `ResourceRecord` and are rewritten in the same transaction as
the write that changes it.
"""
from django.db import models

from resources import decimals


class ResourceJSONField(models.JSONField):
    """A resource as JSON text, on every database.

    PostgreSQL's jsonb rewrites numbers (1e245 comes back as 1000...0, an int) and so would change
    what a client stored; FHIR wants content back as sent. Search never looks inside this column
    (it has its own index tables), so plain text loses nothing and skips jsonb's parse on write.
    Decimals are written and read back with their text (resources.decimals): 13.50 stays 13.50.
    """

    def db_type(self, connection):
        return "text"

    def get_db_prep_value(self, value, connection, prepared=False):
        if value is None:
            return None
        return decimals.dumps(value)

    def from_db_value(self, value, expression, connection):
        if value is None or not isinstance(value, str):
            return value
        return decimals.loads(value)


class ResourceRecord(models.Model):
    id = models.BigAutoField(primary_key=True)
    resource_type = models.CharField(max_length=64)
    logical_id = models.CharField(max_length=64)
    version = models.PositiveIntegerField()
    last_updated = models.DateTimeField()
    deleted = models.BooleanField(default=False)
    content = ResourceJSONField(null=True)  # the resource as served, meta included; null when deleted

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["resource_type", "logical_id"], name="uniq_resource_type_id"),
        ]
        indexes = [
            models.Index(fields=["resource_type", "last_updated"], name="record_type_updated"),
        ]

    def __str__(self) -> str:
        return f"{self.resource_type}/{self.logical_id}/_history/{self.version}"


class ResourceVersion(models.Model):
    id = models.BigAutoField(primary_key=True)
    record = models.ForeignKey(ResourceRecord, on_delete=models.CASCADE, related_name="versions")
    resource_type = models.CharField(max_length=64)
    logical_id = models.CharField(max_length=64)
    version = models.PositiveIntegerField()
    last_updated = models.DateTimeField()
    method = models.CharField(max_length=8)  # POST, PUT, PATCH, DELETE: for history entry.request
    deleted = models.BooleanField(default=False)
    content = ResourceJSONField(null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["record", "version"], name="uniq_record_version"),
        ]
        indexes = [
            models.Index(fields=["resource_type", "logical_id", "version"], name="version_lookup"),
            models.Index(fields=["resource_type", "last_updated"], name="version_type_updated"),
            models.Index(fields=["last_updated"], name="version_updated"),
        ]
