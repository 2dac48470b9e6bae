"""Search index tables: one per search parameter type (like HAPI's HFJ_SPIDX_*).

Each row belongs to the current, non-deleted version of one resource (`record`) and one parameter
(`name`); rows are rewritten in the write transaction, so superseded and deleted versions are
never matched. `resource_type` is repeated on every row so an index can lead with it; `record` ends
each value index so the `record_id IN (...)` subqueries are index-only scans.
"""
from django.db import models

from fhirserver.storage.models import ResourceRecord


class IndexRow(models.Model):
    id = models.BigAutoField(primary_key=True)
    record = models.ForeignKey(ResourceRecord, on_delete=models.CASCADE, related_name="+")
    resource_type = models.CharField(max_length=64)
    name = models.CharField(max_length=64)

    class Meta:
        abstract = True


class StringIndex(IndexRow):
    value = models.CharField(max_length=255)  # lower-cased, accents removed: the default prefix match
    exact = models.CharField(max_length=255)  # as written, for :exact

    class Meta:
        db_table = "search_string"
        indexes = [models.Index(fields=["resource_type", "name", "value", "record"], name="sx_string_value_r")]


class TokenIndex(IndexRow):
    record = models.ForeignKey(
        ResourceRecord, on_delete=models.CASCADE, related_name="+", db_index=False
    )  # see sx_token_record
    system = models.CharField(max_length=255, default="")
    code = models.CharField(max_length=255, default="")
    text = models.CharField(max_length=255, default="")  # normalised display / CodeableConcept.text for :text

    class Meta:
        db_table = "search_token"
        indexes = [
            models.Index(fields=["resource_type", "name", "code", "system", "record"], name="sx_token_code_r"),
            models.Index(fields=["record", "name", "resource_type", "code", "system"], name="sx_token_record"),
        ]


class DateIndex(IndexRow):
    record = models.ForeignKey(
        ResourceRecord, on_delete=models.CASCADE, related_name="+", db_index=False
    )  # see sx_date_record
    low = models.DateTimeField()  # inclusive; 0001-01-01 when open
    high = models.DateTimeField()  # inclusive (last microsecond); 9999-12-31 when open

    class Meta:
        db_table = "search_date"
        indexes = [
            models.Index(fields=["resource_type", "name", "low", "high", "record"], name="sx_date_low_r"),
            models.Index(fields=["resource_type", "name", "high", "low", "record"], name="sx_date_high_r"),
            # Probing one record's value (another condition drives the page; sort keys): index-only.
            models.Index(fields=["record", "name", "resource_type", "high", "low"], name="sx_date_record"),
        ]


class NumberIndex(IndexRow):
    value = models.FloatField()

    class Meta:
        db_table = "search_number"
        indexes = [models.Index(fields=["resource_type", "name", "value", "record"], name="sx_number_value_r")]


class QuantityIndex(IndexRow):
    record = models.ForeignKey(
        ResourceRecord, on_delete=models.CASCADE, related_name="+", db_index=False
    )  # see sx_quantity_record
    value = models.FloatField()
    system = models.CharField(max_length=255, default="")
    code = models.CharField(max_length=64, default="")  # Quantity.code, else Quantity.unit
    canonical_value = models.FloatField(null=True)  # UCUM canonical form, when the unit is UCUM
    canonical_unit = models.CharField(max_length=64, default="")

    class Meta:
        db_table = "search_quantity"
        indexes = [
            models.Index(fields=["resource_type", "name", "value", "record"], name="sx_quantity_value_r"),
            models.Index(
                fields=["resource_type", "name", "canonical_unit", "canonical_value", "record"],
                name="sx_quantity_canon_r",
            ),
            models.Index(fields=["record", "name", "resource_type", "value"], name="sx_quantity_record"),
        ]


class ReferenceIndex(IndexRow):
    target_type = models.CharField(max_length=64, default="")  # local references: type and id
    target_id = models.CharField(max_length=64, default="")
    url = models.CharField(max_length=255, default="")  # absolute or canonical references, as written

    class Meta:
        db_table = "search_reference"
        indexes = [
            models.Index(
                fields=["resource_type", "name", "target_id", "target_type", "record"], name="sx_ref_target_r"
            ),
            models.Index(fields=["target_type", "target_id"], name="sx_ref_reverse"),
            models.Index(fields=["resource_type", "name", "url"], name="sx_ref_url"),
        ]


class UriIndex(IndexRow):
    uri = models.CharField(max_length=255)

    class Meta:
        db_table = "search_uri"
        indexes = [models.Index(fields=["resource_type", "name", "uri", "record"], name="sx_uri_value_r")]


class PositionIndex(IndexRow):
    """Location.position (WGS84 degrees) for `near`: a latitude band narrows the rows, haversine decides."""
    latitude = models.FloatField()
    longitude = models.FloatField()

    class Meta:
        db_table = "search_position"
        indexes = [
            models.Index(fields=["resource_type", "name", "latitude", "longitude", "record"], name="sx_position_lat_r")
        ]


class CompositeIndex(IndexRow):
    """One row per combination of component values that sit on the same element.

    R4's composites start with a token (or, once, a reference kept as "Type/id" in code1); the
    second component is a token, quantity, number, date or string; the third (MolecularSequence)
    a number.
    """
    system1 = models.CharField(max_length=255, default="")
    code1 = models.CharField(max_length=255, default="")
    system2 = models.CharField(max_length=255, default="")
    code2 = models.CharField(max_length=255, default="")  # token code, quantity unit code, or normalised string
    value2 = models.FloatField(null=True)  # number / quantity
    canonical_value2 = models.FloatField(null=True)
    canonical_unit2 = models.CharField(max_length=64, default="")
    low2 = models.DateTimeField(null=True)
    high2 = models.DateTimeField(null=True)
    value3 = models.FloatField(null=True)

    class Meta:
        db_table = "search_composite"
        indexes = [
            models.Index(fields=["resource_type", "name", "code1", "system1", "record"], name="sx_composite_code_r")
        ]


class TextIndex(models.Model):
    """Normalised narrative and whole-resource text for `_text` and `_content`."""
    record = models.OneToOneField(ResourceRecord, on_delete=models.CASCADE, primary_key=True, related_name="+")
    resource_type = models.CharField(max_length=64)
    narrative = models.TextField(default="")
    content = models.TextField(default="")

    class Meta:
        db_table = "search_text"
