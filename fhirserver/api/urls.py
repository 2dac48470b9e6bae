from django.urls import path, re_path

from fhirserver.api import audit, views

urlpatterns = [
    path("healthz", views.healthz),
    path("readyz", views.readyz),
    re_path(r"^fhir/AuditEvent/?$", audit.audit_endpoint),  # the audit log; before the FHIR catch-all
    re_path(r"^fhir/AuditEvent/(?P<path>.+)$", audit.audit_endpoint),
    re_path(r"^fhir/?$", views.fhir_endpoint),
    re_path(r"^fhir/(?P<path>.+)$", views.fhir_endpoint),
]
