"""What `make run` prints before starting the server: where it is and how to call it, in a box that is
hard to miss, with an `export TOKEN=...` line to paste and calls that use it."""
import os
import sys

from django.conf import settings
from django.core.management.base import BaseCommand

from fhirserver.security import services

SAMPLE = "docs/examples/report.pdf"  # a generated lab report that ships with the repository


class Command(BaseCommand):
    help = "Print the base URL, a token when authorisation is on, and example calls"

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", default="8000")

    def handle(self, *args, host, port, **options):
        site = f"http://{host}:{port}"
        base = f"{site}/fhir"
        lines = [("title", "fhir-digitize is starting"), ("", ""),
                 ("", f"Home page:    {site}/"), ("", f"FHIR API:     {base}"),
                 ("", f"Review page:  {site}/review/   (sign in as clinician / clinician)"), ("", "")]
        auth = ""
        if settings.FHIR.get("AUTH_REQUIRED"):
            token = _demo_token()
            auth = ' -H "Authorization: Bearer $TOKEN"'
            lines += [("", "Paste this in another terminal first (a demo token, 24 h):"), ("", ""),
                      ("code", f"export TOKEN={token}"), ("", "")]
        lines += [("", "Then try:"), ("", ""),
                  ("code", f"curl {base}/metadata"),
                  ("code", f'curl{auth} "{base}/Observation?patient=demo-ada&category=laboratory&_sort=-date"'),
                  ("code", f'curl{auth} -F file=@{SAMPLE} "{base}/Patient/demo-ada/\\$digitize"'),
                  ("", ""),
                  ("", "More: README.md, /docs/, manage.py create_clinician NAME --password ..."),
                  ("", "Stop the server with Ctrl-C.")]
        self.stdout.write(_box(lines, colour=_colour(self.stdout)))


def _box(lines: list[tuple[str, str]], *, colour: bool) -> str:
    """The lines in a double-ruled frame; the title and the commands in colour on a terminal."""
    rule = "=" * 78
    styles = {"title": "\033[1;97;44m", "code": "\033[1;32m"} if colour else {}
    reset = "\033[0m" if colour else ""
    body = [f"{styles.get(kind, '')}  {text}{reset if kind in styles else ''}" if text else "" for kind, text in lines]
    return "\n".join(["", rule, *body, rule, ""]) + "\n"


def _colour(stream) -> bool:
    out = getattr(stream, "_out", stream)
    return hasattr(out, "isatty") and out.isatty() and "NO_COLOR" not in os.environ and sys.platform != "win32"


def _demo_token() -> str:
    """A token for the demo client (created once, reused on every run) from the security layer."""
    return services.demo_token(expires_in=86400)
