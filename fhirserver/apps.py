from django.apps import AppConfig


class FhirServerConfig(AppConfig):
    name = "fhirserver"
    label = "fhirserver"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from fhirserver.operations import registry
        from fhirserver.terminology import checks, ucum  # noqa: F401 - checks registers itself

        registry.load()
        # After every migrate (and test-database flush): the shipped UCUM CodeSystem is readable.
        post_migrate.connect(ucum.install, sender=self, dispatch_uid="fhirserver.ucum_codesystem")
