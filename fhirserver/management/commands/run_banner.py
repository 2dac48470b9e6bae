"""What `make run` prints before starting the server: where it is and how to call it."""
from django.conf import settings
from django.core.management.base import BaseCommand

from fhirserver.security import services


class Command(BaseCommand):
    help = "Print the base URL, a token when authorisation is on, and example calls"

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", default="8000")

    def handle(self, *args, host, port, **options):
        base = f"http://{host}:{port}/fhir"
        auth = ""
        if settings.FHIR.get("AUTH_REQUIRED"):
            token = _demo_token()
            auth = f' -H "Authorization: Bearer {token}"'
            self.stdout.write(f"\nAccess token for the demo client (system scopes, 24 h):\n  {token}\n")
        self.stdout.write(f"""
FHIR R4 server: {base}
  curl{auth} {base}/metadata
  curl{auth} "{base}/Patient?name=okafor"
  curl{auth} "{base}/Observation?patient=demo-ada&category=laboratory&_sort=-date"
  curl{auth} -F file=@report.pdf "{base}/Patient/demo-ada/\\$digitize"
Review page: http://{host}:{port}/review/   (sign in as clinician / clinician;
             more: manage.py create_clinician NAME --password ...)
Health: http://{host}:{port}/healthz
""")


def _demo_token() -> str:
    """A token for the demo client (created once, reused on every run) from the security layer."""
    return services.demo_token(expires_in=86400)
