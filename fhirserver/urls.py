from django.urls import include, path

from fhirserver import site
from fhirserver.security import urls as security

urlpatterns = [
    path("", site.home, name="home"),  # a landing page: the API base, the review page, the docs
    path("docs/", site.document, name="docs"),
    path("docs/<str:name>", site.document, name="doc"),
    path("docs/images/<str:name>", site.image, name="doc-image"),
    path("", include("ingestion.edge.urls")),  # $digitize job status URLs; before the /fhir catch-all
    path("", include("fhirserver.bulk.urls")),  # bulk export status URLs and files; before the /fhir catch-all
    path("oauth2/", include((security.oauth2_patterns, "oauth2_provider"))),  # SMART authorization server
    path("", include(security.fhir_patterns)),  # smart-configuration; before the /fhir catch-all
    path("review/", include("review.urls")),  # clinician review pages (docs/review.md)
    path("", include("fhirserver.api.urls")),
]

handler404 = "fhirserver.api.views.not_found_outcome"
handler500 = "fhirserver.api.views.server_error_outcome"
