from django.apps import AppConfig
from django.conf import settings


class FhirServerConfig(AppConfig):
    name = "fhirserver"
    label = "fhirserver"

    def ready(self) -> None:
        # What the core offers is put in its tables here, once the apps are loaded (the modules use models):
        # the transaction/batch processor as the router's POST [base], and each operation module
        # registers itself with the operation registry when imported.
        from django.db.backends.signals import connection_created
        from django.db.models.signals import post_migrate

        from fhirserver.core import bundles, limits, router
        from fhirserver.operations import (  # noqa: F401 - each registers itself
            codesystem_validate_code,
            everything,
            expand,
            lastn,
            lookup,
            meta,
            subscription_events,
            subscription_status,
            subscription_ws_token,
            subsumes,
            translate,
            validate,
            valueset_validate_code,
        )
        from fhirserver.terminology import checks, ucum  # noqa: F401 - checks registers itself

        router.route("system", "POST", bundles.process)
        if settings.CELERY_BROKER_URL:  # jobs go to Celery workers: the app that sends them loads now
            from fhirserver.jobs import celery_app  # noqa: F401 - registers itself with fhirserver.jobs

        # After every migrate (and test-database flush): the shipped UCUM CodeSystem is readable.
        post_migrate.connect(ucum.install, sender=self, dispatch_uid="fhirserver.ucum_codesystem")
        # Each new database connection gets the request bounds (statement timeout, SQLite progress handler).
        connection_created.connect(limits.on_connection_created, dispatch_uid="fhir-request-bounds")
