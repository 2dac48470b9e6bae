from django.apps import AppConfig


class BulkConfig(AppConfig):
    name = "fhirserver.bulk"
    label = "bulk"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.conf import settings

        from fhirserver import jobs
        from fhirserver.bulk import export
        from fhirserver.operations import export as export_operation  # noqa: F401 - registers $export

        jobs.register(export.KIND, export.run, threads=int(settings.BULK["THREADS"]))
