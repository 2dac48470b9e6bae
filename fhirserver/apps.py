from django.apps import AppConfig


class FhirServerConfig(AppConfig):
    name = "fhirserver"
    label = "fhirserver"

    def ready(self) -> None:
        # What the core offers is put in its tables here, once the apps are loaded (the modules use models):
        # the transaction/batch processor as the router's POST [base], and each operation module
        # registers itself with the operation registry when imported.
        from fhirserver.core import bundles, router
        from fhirserver.operations import everything, lastn, meta, validate  # noqa: F401

        router.route("system", "POST", bundles.process)
