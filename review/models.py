"""The review page stores nothing of its own: the FHIR resources are the record (their status says
whether a report was confirmed or rejected, their history what the machine read and what a person
changed). This model only carries the permission that decides who may upload and verify."""
from django.db import models


class LabReview(models.Model):
    class Meta:
        managed = False  # no table: a holder for the permission below
        default_permissions = ()
        permissions = [("verify_lab_report", "Can upload lab reports and verify, correct or reject what was read")]
