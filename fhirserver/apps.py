from django.apps import AppConfig


class FhirServerConfig(AppConfig):
    name = "fhirserver"
    label = "fhirserver"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created
        from django.db.models.signals import post_migrate

        from fhirserver.core import limits
        from fhirserver.operations import registry
        from fhirserver.terminology import checks, ucum  # noqa: F401 - checks registers itself

        registry.load()
        # After every migrate (and test-database flush): the shipped UCUM CodeSystem is readable.
        post_migrate.connect(ucum.install, sender=self, dispatch_uid="fhirserver.ucum_codesystem")
        # Each new database connection gets the request bounds (statement timeout, SQLite progress handler).
        connection_created.connect(limits.on_connection_created, dispatch_uid="fhir-request-bounds")
