from django.urls import path

from review import views

app_name = "review"

urlpatterns = [
    path("", views.document_list, name="list"),
    path("upload", views.upload, name="upload"),
    path("jobs/<uuid:job_id>", views.document, name="document"),
    path("jobs/<uuid:job_id>/pages/<int:number>.png", views.page_image, name="page"),
    path("api/jobs/<uuid:job_id>", views.job_state, name="job-state"),
    path("api/loinc", views.loinc_search, name="loinc"),
    path("api/patients", views.patient_search, name="patients"),
]
