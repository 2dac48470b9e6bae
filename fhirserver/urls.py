from django.urls import include, path

urlpatterns = [
    path("", include("fhirserver.api.urls")),
]
