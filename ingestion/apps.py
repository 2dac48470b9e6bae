from django.apps import AppConfig
from django.db.models.signals import post_migrate


class IngestionConfig(AppConfig):
    name = "ingestion"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.conf import settings

        # Once the apps are loaded (the operation's modules use models): $digitize joins the core's operations.
        from ingestion.edge import operation  # noqa: F401 - registers $digitize
        from ingestion.edge.definition import install_operation_definition
        from ingestion.edge.jobs import queue
        from ingestion.terminology import codesystem

        queue.register(threads=settings.INGESTION["WORKERS"])

        # After every migrate (and every test-database flush): the $digitize OperationDefinition is readable.
        post_migrate.connect(install_operation_definition, sender=self, dispatch_uid="ingestion.operation_definition")
        post_migrate.connect(codesystem.install, sender=self, dispatch_uid="ingestion.loinc_codesystem")
