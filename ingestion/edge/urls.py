from django.urls import path

from ingestion.edge import views

urlpatterns = [
    path("fhir/_jobs/<uuid:job_id>", views.job_status, name="digitize-job-status"),
]
