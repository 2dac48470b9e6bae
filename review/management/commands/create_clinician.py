"""`manage.py create_clinician USERNAME [--password P] [--name "Dr Ada Lovelace"]`: an account that may
upload and verify lab reports on /review/ (and sign in to SMART apps), with a Practitioner behind it."""
from django.core.management.base import BaseCommand

from review.accounts import clinician_create


class Command(BaseCommand):
    help = "Create (or update) a user in the clinician group, linked to a Practitioner"

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument(
            "--password", help="set this password (default: keep the current one, or none for a new account)"
        )
        parser.add_argument("--name", default="", help="full name, e.g. 'Ada Lovelace'")

    def handle(self, *args, username, password, name, **options):
        account = clinician_create(username=username, password=password, full_name=name)
        self.stdout.write(
            f"{account.username} may review lab reports at /review/ (Practitioner: {account.practitioner})"
        )
