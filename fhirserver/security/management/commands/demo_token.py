"""python manage.py demo_token: a system/*.cruds token for the demo client (created on first use)."""
from django.core.management.base import BaseCommand

from fhirserver.security import services


class Command(BaseCommand):
    help = "Print an access token for the demo (make run shows it)."

    def add_arguments(self, parser):
        parser.add_argument("--expires-in", type=int, default=86400)

    def handle(self, *args, **options):
        self.stdout.write(services.demo_token(expires_in=options["expires_in"]))
