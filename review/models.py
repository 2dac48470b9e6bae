"""The review page keeps the FHIR resources as the record (their status says whether a report was confirmed
or rejected, their history what the machine read and what a person changed). It stores only the page
images of each original, rendered once when the document is read, and the permission that decides who
may upload and verify."""
from django.db import models


class LabReview(models.Model):
    class Meta:
        managed = False  # no table: a holder for the permission below
        default_permissions = ()
        permissions = [("verify_lab_report", "Can upload lab reports and verify, correct or reject what was read")]


class PageImage(models.Model):
    """One page of a job's original, in the pixel space of its document tree (the result boxes land on
    their words): rendered in the job's reading stage, stored in the database beside the original so
    that every web process and worker serves the same bytes at once."""
    job = models.ForeignKey("ingestion.DigitizeJob", on_delete=models.CASCADE, related_name="page_images")
    number = models.PositiveSmallIntegerField()  # 1-based
    media_type = models.CharField(max_length=32, default="image/png")
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    data = models.BinaryField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["job", "number"], name="review_page_image_unique")]
