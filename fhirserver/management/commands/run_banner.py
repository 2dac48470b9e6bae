"""What `make run` prints before starting the server: where it is and how to call it."""
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand


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
            self.stdout.write(f"\nAccess token (system/*.*, 24 h):\n  {token}\n")
        self.stdout.write(f"""
FHIR R4 server: {base}
  curl{auth} {base}/metadata
  curl{auth} "{base}/Patient?name=okafor"
  curl{auth} "{base}/Observation?patient=demo-ada&category=laboratory&_sort=-date"
  curl{auth} -F file=@report.pdf "{base}/Patient/demo-ada/$digitize"
Review page: http://{host}:{port}/review/   Health: http://{host}:{port}/healthz
""")


def _demo_token() -> str:
    """A token for the demo client, minted by the security layer's own commands."""
    import io
    import json

    out = io.StringIO()
    call_command("create_client", "--name", "demo-cli", "--scopes", "system/*.* user/*.* openid fhirUser", "--grant", "client_credentials", stdout=out)
    client_id = json.loads(out.getvalue())["client_id"]
    out = io.StringIO()
    call_command("issue_token", "--client-id", client_id, "--scopes", "system/*.*", "--expires-in", "86400", stdout=out)
    text = out.getvalue().strip()
    try:
        return json.loads(text)["access_token"]
    except (ValueError, KeyError, TypeError):
        return text
