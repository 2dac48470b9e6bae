"""python manage.py set_fhir_user --user NAME --resource Practitioner/123: who a signed-in user is in FHIR."""
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from fhirserver.security.models import FhirUser


class Command(BaseCommand):
    help = (
        "Link a user account to the FHIR resource (Practitioner, Patient, RelatedPerson...) it stands for (fhirUser)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--user", required=True)
        parser.add_argument("--resource", required=True, help="e.g. Practitioner/123")

    def handle(self, *args, **options):
        resource_type, _, resource_id = options["resource"].partition("/")
        if (
            resource_type not in ("Practitioner", "Patient", "RelatedPerson", "PractitionerRole", "Person")
            or not resource_id
        ):
            raise CommandError(
                "--resource must be Practitioner/ID, Patient/ID, RelatedPerson/ID, PractitionerRole/ID or Person/ID"
            )
        try:
            user = get_user_model().objects.get(username=options["user"])
        except get_user_model().DoesNotExist:
            raise CommandError(f"no user {options['user']}") from None
        FhirUser.objects.update_or_create(user=user, defaults={"resource": options["resource"]})
        self.stdout.write(f"{user.get_username()} is {options['resource']}")
