from django.apps import AppConfig


class FhirServerConfig(AppConfig):
    name = "fhirserver"
    label = "fhirserver"

    def ready(self) -> None:
        from fhirserver.operations import registry

        registry.load()
