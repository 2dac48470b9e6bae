"""python manage.py issue_token --client-id ID --scopes "..." [--patient ID] [--user NAME] [--expires-in SECONDS]"""
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from fhirserver.security import services
from fhirserver.security.scopes import ScopeError


class Command(BaseCommand):
    help = "Print a ready access token for a registered client (scripts and test harnesses)."

    def add_arguments(self, parser):
        parser.add_argument("--client-id", required=True)
        parser.add_argument("--scopes", required=True)
        parser.add_argument("--patient", help="launch context: the patient id patient/ scopes are confined to")
        parser.add_argument("--user", help="username the token acts for")
        parser.add_argument("--expires-in", type=int, default=3600, help="lifetime in seconds (default 3600)")

    def handle(self, *args, **options):
        try:
            token = services.token_issue(
                client_id=options["client_id"],
                scopes=options["scopes"],
                patient=options["patient"],
                user=options["user"],
                expires_in=options["expires_in"],
            )
        except (ValueError, ScopeError, get_user_model().DoesNotExist) as error:
            raise CommandError(str(error)) from None
        self.stdout.write(token)
