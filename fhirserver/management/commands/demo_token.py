"""`manage.py demo_token`: print an access token for the demo client (system scopes, 24 h), nothing else,
so that `export TOKEN=$(.venv/bin/python manage.py demo_token)` sets it (the README's "Try it")."""
from django.core.management.base import BaseCommand

from fhirserver.security import services


class Command(BaseCommand):
    help = "Print an access token for the demo client (system/*.cruds, 24 hours)"

    def handle(self, *args, **options):
        self.stdout.write(services.demo_token(expires_in=86400))
