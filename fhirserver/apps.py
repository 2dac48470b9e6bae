from django.apps import AppConfig


class FhirServerConfig(AppConfig):
    name = "fhirserver"
    label = "fhirserver"

    def ready(self) -> None:
        from fhirserver.operations import registry

        registry.load()

        from django.db.backends.signals import connection_created

        from fhirserver.core import limits

        connection_created.connect(limits.on_connection_created, dispatch_uid="fhir-request-bounds")
