from django.urls import path, re_path

from fhirserver.api import views

urlpatterns = [
    path("healthz", views.healthz),
    path("readyz", views.readyz),
    re_path(r"^fhir/?$", views.fhir_endpoint),
    re_path(r"^fhir/(?P<path>.+)$", views.fhir_endpoint),
]
