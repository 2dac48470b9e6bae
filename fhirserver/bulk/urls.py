from django.urls import path

from fhirserver.bulk import views

urlpatterns = [
    path("fhir/_bulk/<uuid:job_id>", views.export_status, name="bulk-export-status"),
    path("fhir/_bulk/<uuid:job_id>/<str:name>", views.export_file, name="bulk-export-file"),
]
