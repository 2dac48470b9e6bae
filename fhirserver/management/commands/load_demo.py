"""Load the demo data set (idempotent: what is already stored and unchanged stays as it is)."""
from django.core.management.base import BaseCommand

from fhirserver.core.bundles import process
from fhirserver.core.request import FhirRequest
from fhirserver.demo import demo_bundle
from fhirserver.storage import repository


class Command(BaseCommand):
    help = "Load a few demo patients with lab Observations and DiagnosticReports"

    def handle(self, *args, **options):
        bundle = demo_bundle()
        # Only entries whose content differs from what is stored are written, so re-runs add no versions.
        bundle["entry"] = [e for e in bundle["entry"] if not _unchanged(e["resource"])]
        if bundle["entry"]:
            process(FhirRequest(method="POST", base_url="", kind="system", body=bundle))
        self.stdout.write(f"demo data: {len(bundle['entry'])} resources written")


def _unchanged(resource: dict) -> bool:
    stored = repository.current(resource["resourceType"], resource["id"])
    if stored is None or stored.deleted:
        return False
    return {k: v for k, v in stored.content.items() if k != "meta"} == resource
