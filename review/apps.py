from django.apps import AppConfig


class ReviewConfig(AppConfig):
    name = "review"
    verbose_name = "Clinician review of digitised lab reports"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from ingestion.signals import document_read
        from review.pages import store_page_images

        # Page images are rendered once, in the job's reading stage, and stored beside the original.
        document_read.connect(store_page_images, dispatch_uid="review.page_images")
