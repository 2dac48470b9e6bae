"""The bench server's URLconf: the project's routes plus the yardstick of benchmarks/rest_bench.py.

The yardstick is mounted only here (DJANGO_SETTINGS_MODULE=benchmarks.settings), never in the API.
"""
from django.urls import include, path

from benchmarks.baseline_views import raw_resource

urlpatterns = [
    path("bench/raw/<int:pk>", raw_resource),
    path("", include("fhirserver.urls")),
]

handler404 = "fhirserver.api.views.not_found_outcome"
handler500 = "fhirserver.api.views.server_error_outcome"
