from django.urls import include, path

urlpatterns = [
    path("", include("ingestion.urls")),  # $digitize job status URLs; before the /fhir catch-all
    path("", include("fhirserver.api.urls")),
]

handler404 = "fhirserver.api.views.not_found_outcome"
handler500 = "fhirserver.api.views.server_error_outcome"
