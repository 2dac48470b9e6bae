from django.apps import AppConfig


class ReviewConfig(AppConfig):
    name = "review"
    verbose_name = "Clinician review of digitised lab reports"
    default_auto_field = "django.db.models.BigAutoField"
