import os

from django.urls import include, path

from fhirserver import site
from fhirserver.security import urls as security

urlpatterns = [
    path("", site.home, name="home"),  # a landing page: the API base, the review page, the docs
    path("docs/", site.document, name="docs"),
    path("docs/<str:name>", site.document, name="doc"),
    path("docs/images/<str:name>", site.image, name="doc-image"),
    path("", include("ingestion.edge.urls")),  # $digitize job status URLs; before the /fhir catch-all
    path("oauth2/", include((security.oauth2_patterns, "oauth2_provider"))),  # SMART authorization server
    path("", include(security.fhir_patterns)),  # smart-configuration, AuditEvent; before the /fhir catch-all
    path("review/", include("review.urls")),  # clinician review pages (docs/review.md)
    path("", include("fhirserver.api.urls")),
]

if os.environ.get("FHIR_BENCH_BASELINE") == "1":  # the yardstick of benchmarks/rest_bench.py, never in the API
    from benchmarks.baseline_views import raw_resource

    urlpatterns.insert(0, path("bench/raw/<int:pk>", raw_resource))

handler404 = "fhirserver.api.views.not_found_outcome"
handler500 = "fhirserver.api.views.server_error_outcome"
